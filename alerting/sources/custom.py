"""The ``custom`` template: a sandboxed Jinja2 mapping from any JSON payload to the trigger fields.

The mapping is a JSON object keyed by trigger fields (MAPPING_KEYS); its string values, at any
depth, are Jinja2 templates rendered over ``payload``, the incoming JSON:
  {"subject": "{{ payload.title }}", "properties": {"Host": "{{ payload.host }}"},
   "action": "{{ 'resolve' if payload.state == 'ok' else 'trigger' }}"}
Then: a missing payload field or null renders empty; a top-level field that rendered empty counts
as not given (defaults apply); rendered text for properties, recipients, responseOptions and
expirationInMinutes is read as JSON when it parses ("{{ payload.labels | tojson }}", "{{ payload.ttl }}");
``action`` is trigger (default), acknowledge or resolve; the rest goes through the webhook
validator, so errors name the field.

Beyond the immutable sandbox: an unsafe attribute fails instead of rendering empty; strings
offer only harmless methods; {% for %} cannot nest; operations that could build huge values
(seq * n, x ** n, "%9999999s", str.format widths, replace, join, sum, big number arguments) are
refused; the whole mapping has RENDER_SECONDS; each field renders at most MAX_FIELD_CHARS.
"""
from __future__ import annotations

import contextvars
import functools
import json
import re
import string
import time

from jinja2 import ChainableUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import webhook
from .base import ACTIONS, AlertChange, SourceError

MAPPING_KEYS = ("action", "subject", "message", "priority", "properties", "recipients",
                "responseOptions", "expirationInMinutes", "dedupKey")
JSON_KEYS = ("properties", "recipients", "responseOptions", "expirationInMinutes")
MAX_FIELD_CHARS = 64 * 1024
MAX_VALUE = 1024 * 1024  # longest string or list a template may build or pass to a function
MAX_NUMBER_ARG = 100_000  # the sandbox's own range() limit
RENDER_SECONDS = 1.0
SAFE_STR_METHODS = frozenset(
    "capitalize casefold count endswith find format format_map index isalnum isalpha isdecimal isdigit "
    "islower isnumeric isspace istitle isupper lower lstrip partition removeprefix removesuffix replace "
    "rfind rindex rpartition rsplit rstrip split splitlines startswith strip swapcase title upper".split())
_PERCENT_WIDE = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d{6,}|\d*\.(?:\*|\d{6,}))")
_deadline = contextvars.ContextVar("klaxon_mapping_deadline", default=None)


def _tick() -> None:
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise SecurityError(f"the mapping took longer than {RENDER_SECONDS:g} s to render")


def _guard(args, kwargs) -> None:
    _tick()
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER_ARG:
            raise SecurityError(f"numbers over {MAX_NUMBER_ARG} are not allowed as arguments")
        if isinstance(value, (str, list, tuple, dict)) and len(value) > MAX_VALUE:
            raise SecurityError(f"values longer than {MAX_VALUE} are not allowed as arguments")


def _check_replace(text, old, new, count=None) -> None:
    # each match grows the text by len(new), so a long ``new`` could build gigabytes
    text, old, new = str(text), str(old), str(new)
    matches = text.count(old) if count is None or count < 0 else min(count, text.count(old))
    if len(text) + matches * len(new) > MAX_VALUE:
        raise SecurityError(f"replace() would build more than {MAX_VALUE} characters")


def _check_format(fmt: str) -> None:
    for _, _, spec, _ in string.Formatter().parse(fmt):
        if spec and ("{" in spec or re.search(r"\d{6,}", spec)):
            raise SecurityError("format widths over 99999 or taken from arguments are not allowed")


def _check_percent(fmt) -> None:
    if _PERCENT_WIDE.search(str(fmt)):
        raise SecurityError("%-format widths over 99999 or taken from arguments are not allowed")


class _MappingEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context, operator, left, right):
        _tick()
        if operator == "*":
            seq, times = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_VALUE:
                raise SecurityError(f"'*' would build more than {MAX_VALUE} items")
        elif operator == "**" and isinstance(left, int) and abs(left) > 1 and isinstance(right, int) and right > 4096:
            raise SecurityError("exponents over 4096 are not allowed")
        elif operator == "%" and isinstance(left, str):
            _check_percent(left)
        return super().call_binop(context, operator, left, right)

    def call(self, context, obj, /, *args, **kwargs):
        _guard(args, kwargs)
        if getattr(obj, "__name__", None) == "replace" and isinstance(getattr(obj, "__self__", None), str) \
                and len(args) >= 2:
            _check_replace(obj.__self__, *args[:3])
        return super().call(context, obj, *args, **kwargs)

    def getattr(self, obj, attribute):
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        _tick()
        return super().getitem(obj, argument)

    def is_safe_attribute(self, obj, attr, value):
        if isinstance(obj, str) and callable(value) and attr not in SAFE_STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj, attribute):
        # fail loudly: the default renders an empty string, hiding the attempt
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def wrap_str_format(self, value):
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format(value.__self__)
        return wrapped


def _guarded(func, check=None):
    @functools.wraps(func)  # keeps Jinja's pass_context / pass_eval_context marker
    def filter_(*args, **kwargs):
        _guard(args, kwargs)
        if check is not None:
            check(*args, **kwargs)
        return func(*args, **kwargs)
    return filter_


def _join_size(eval_ctx, value, d="", attribute=None):
    items = list(value) if not isinstance(value, (str, list, tuple)) else value
    if len(str(d)) * max(len(items) - 1, 0) + sum(len(str(item)) for item in items) > MAX_VALUE:
        raise SecurityError(f"join would build more than {MAX_VALUE} characters")


def _numeric_start(value, attribute=None, start=0):
    if not isinstance(start, (int, float)):
        raise SecurityError("sum() adds numbers only")


def _environment() -> _MappingEnvironment:
    env = _MappingEnvironment(undefined=ChainableUndefined, autoescape=False,
                              finalize=lambda value: "" if value is None else value)
    for name in ("lipsum", "cycler", "joiner", "namespace"):  # namespace would carry state across loops
        env.globals.pop(name, None)
    del env.filters["indent"]  # width times lines is unbounded
    checks = {"replace": lambda _ctx, s, old, new, count=None: _check_replace(s, old, new, count),
              "join": _join_size, "format": lambda value, *a, **k: _check_percent(value), "sum": _numeric_start}
    env.filters = {name: _guarded(func, checks.get(name)) for name, func in env.filters.items()}
    return env


_ENV = _environment()


@functools.lru_cache(maxsize=512)
def _compile(source: str):
    tree = _ENV.parse(source)
    for loop in tree.find_all(nodes.For):
        if next(loop.find_all(nodes.For), None) is not None:
            raise SecurityError("a {% for %} inside another {% for %} is not allowed")
    return _ENV.from_string(tree)


def _render(source: str, where: str, payload) -> str:
    parts, size = [], 0
    try:
        for chunk in _compile(source).generate(payload=payload):
            size += len(chunk)
            if size > MAX_FIELD_CHARS:
                raise SourceError(where, f"renders more than {MAX_FIELD_CHARS} characters")
            parts.append(chunk)
    except SourceError:
        raise
    except TemplateSyntaxError as exc:
        raise SourceError(where, f"has a template error on line {exc.lineno}: {exc.message}") from None
    except SecurityError as exc:
        raise SourceError(where, f"is not allowed: {exc}") from None
    except Exception as exc:  # a template can fail in any way: TypeError, ZeroDivisionError, RecursionError …
        raise SourceError(where, f"could not be rendered: {type(exc).__name__}: {str(exc)[:200]}") from None
    return "".join(parts).strip()


def _render_value(value, where: str, payload):
    if isinstance(value, str):
        return _render(value, where, payload)
    if isinstance(value, dict):
        return {key: _render_value(item, f"{where}.{key}", payload) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_value(item, f"{where}[{i}]", payload) for i, item in enumerate(value)]
    return value


def load_mapping(mapping) -> dict:
    """The mapping document (JSON text or an already-parsed dict), checked for known field names."""
    if isinstance(mapping, str):
        try:
            mapping = json.loads(mapping) if mapping.strip() else None
        except ValueError as exc:
            raise SourceError("mapping", f"is not valid JSON ({exc})") from None
    if mapping is None:
        raise SourceError("mapping", "is not set; write one on the configuration screen")
    if not isinstance(mapping, dict):
        raise SourceError("mapping", "must be a JSON object keyed by trigger fields")
    for key in mapping:
        if key not in MAPPING_KEYS:
            raise SourceError(f"mapping.{key}", "is not a trigger field; use " + ", ".join(MAPPING_KEYS))
    return mapping


def parse(payload, mapping=None) -> list[AlertChange]:
    """Render ``mapping`` over ``payload`` (any JSON) and validate the result as one trigger body."""
    document = load_mapping(mapping)
    token = _deadline.set(time.monotonic() + RENDER_SECONDS)
    try:
        rendered = {key: _render_value(value, f"mapping.{key}", payload) for key, value in document.items()}
    finally:
        _deadline.reset(token)
    fields = {key: value for key, value in rendered.items() if value != ""}
    for key in JSON_KEYS:
        if isinstance(fields.get(key), str):
            fields[key] = _json_or_text(fields[key])
    action = fields.pop("action", "trigger")
    if not isinstance(action, str) or action.strip().lower() not in ACTIONS:
        raise SourceError("action", "must be one of " + ", ".join(ACTIONS) + " (as rendered by the custom mapping)")
    try:
        change = webhook.validate(fields)
    except SourceError as exc:
        raise SourceError(exc.field, f"{exc.message} (as rendered by the custom mapping)") from None
    change.action = change.raw_status = action.strip().lower()
    if change.action != "trigger" and change.dedup_key is None:
        raise SourceError("dedupKey", f"is required to {change.action} an alert; map it in the custom mapping")
    return [change]


def _json_or_text(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text  # the validator then names the field and the type it needs


def preview(mapping, sample) -> dict:
    """For the dashboard's live preview: the changes ``mapping`` makes of ``sample``, or the error."""
    try:
        return {"ok": True, "alerts": [change.to_json() for change in parse(sample, mapping)]}
    except SourceError as exc:
        return {"ok": False, "field": exc.field, "error": exc.message}
