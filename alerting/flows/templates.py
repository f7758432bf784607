"""Sandboxed Jinja2 for flow step fields (SPEC §5).

Fields see plain JSON data only (``alert``, ``trigger``, ``steps``) through an immutable sandbox:
no attribute starting with ``_``, no mutation, no ``cycler``/``joiner``/``lipsum``. Names that do
not exist raise instead of rendering as empty text. A render is bounded: its output (64 KiB), the
loop iterations and calls it may make, and the size of ``*`` and ``**`` results.
"""
from __future__ import annotations

import contextvars
import json
import re

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_OUTPUT = 64 * 1024
MAX_ITERATIONS = 10_000  # loop turns and calls per render, together
MAX_SIZE = 100_000  # items a * or ** may produce
_budget: contextvars.ContextVar[list] = contextvars.ContextVar("klaxon_flow_template_budget")


class FlowTemplateError(ValueError):
    """A field's template could not be compiled or rendered; the message says why."""


def _spend(count: int = 1) -> None:
    budget = _budget.get(None)
    if budget is None:
        return
    budget[0] -= count
    if budget[0] < 0:
        raise SecurityError(f"the template did more than {MAX_ITERATIONS} loop turns and calls")


def _bounded(iterable):
    """Every ``{% for %}`` loops through this, so a loop spends the render's budget."""
    for item in iterable:
        _spend()
        yield item


def _range(*args):
    numbers = range(*args)
    if len(numbers) > MAX_ITERATIONS:
        raise SecurityError(f"range() of more than {MAX_ITERATIONS} numbers")
    return numbers


_PERCENT_WIDTH = re.compile(r"%[-#0 +]*(?:\*|\d{4,})|%[-#0 +]*\d*\.(?:\*|\d{4,})")
_BRACE_WIDTH = re.compile(r"\{[^{}]*:[^{}]*\d{4,}[^{}]*\}")
_STR_METHODS = {"lower", "upper", "title", "capitalize", "strip", "lstrip", "rstrip", "split", "rsplit",
                "splitlines", "startswith", "endswith", "replace", "join", "format", "find", "count",
                "isdigit", "isalpha", "isalnum", "partition", "rpartition", "removeprefix", "removesuffix"}


def _check_widths(fmt: str) -> None:
    """Refuse format strings whose widths or precisions (1000 and up) could build huge text."""
    if _PERCENT_WIDTH.search(fmt) or _BRACE_WIDTH.search(fmt):
        raise SecurityError("format widths of 1000 or more are not allowed")


def _check_size(size: int) -> None:
    if size > MAX_SIZE * 10:
        raise SecurityError(f"that would make a text of more than {MAX_SIZE * 10} characters")


def _check_str_method(text: str, name: str, args: tuple) -> None:
    """Only the plain string methods, and replace/join/format only when their result stays small."""
    if name not in _STR_METHODS:
        raise SecurityError(f"the string method {name}() is not allowed in flow templates")
    if name == "format":
        _check_widths(text)
    elif name == "replace" and len(args) >= 2:
        _check_size(len(text) * max(1, len(str(args[1]))))
    elif name == "join" and args:
        items = list(args[0]) if not isinstance(args[0], (str, list, tuple)) else args[0]
        _check_size(sum(len(str(i)) for i in items) + len(text) * len(items))


def _replace(value, old, new, count=None):
    text = str(value)
    _check_size(len(text) * max(1, len(str(new))))
    return text.replace(str(old), str(new), -1 if count is None else count)


def _join(value, separator="", attribute=None):
    items = [str(i if attribute is None else i.get(attribute, "")) for i in value]
    _check_size(sum(map(len, items)) + len(separator) * len(items))
    return separator.join(items)


def _tojson(value, indent=None):
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str)


class FlowEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with loops, calls and the operators that can build huge values kept in bounds."""

    intercepted_binops = frozenset(["*", "**", "%"])

    def _parse(self, source, name, filename):
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            if loop.recursive:
                raise SecurityError("recursive loops are not allowed in flow templates")
            loop.iter = nodes.Filter(loop.iter, "_bounded", [], [], None, None, lineno=loop.lineno)
        return tree

    def call(self, __context, __obj, *args, **kwargs):
        _spend()
        if isinstance(getattr(__obj, "__self__", None), str):
            _check_str_method(__obj.__self__, __obj.__name__, args)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value):
        if isinstance(getattr(value, "__self__", None), str) and getattr(value, "__name__", "") in (
                "format", "format_map"):
            _check_widths(value.__self__)
        return super().wrap_str_format(value)

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise SecurityError("exponents above 64 are not allowed")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) \
                        and len(seq) * times > MAX_SIZE:
                    raise SecurityError(f"that would make a value of more than {MAX_SIZE} items")
        if operator == "%" and isinstance(left, str):
            _check_widths(left)
        return super().call_binop(context, operator, left, right)


def make_environment() -> FlowEnvironment:
    """The sandbox with only plain globals (range, dict, namespace) and size-checked filters."""
    env = FlowEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.globals = {"range": _range, "dict": dict, "namespace": env.globals["namespace"]}
    env.filters["tojson"] = _tojson
    env.filters["_bounded"] = _bounded
    env.filters["replace"] = _replace
    env.filters["join"] = _join
    for risky in ("wordwrap", "center", "indent", "format"):  # width or format arguments can build huge strings
        env.filters.pop(risky, None)
    return env


ENV = make_environment()


def compile_template(source: str):
    """Compile one field; raise FlowTemplateError naming the line for a syntax error."""
    try:
        return ENV.from_string(source)
    except TemplateError as exc:
        line = f" on line {exc.lineno}" if getattr(exc, "lineno", None) else ""
        raise FlowTemplateError(f"template syntax error{line}: {exc.message or exc}") from None


def render(source: str, context: dict) -> str:
    """Render one field over ``context``; raise FlowTemplateError saying what went wrong."""
    if "{" not in source:
        return source  # plain text needs no template
    template = compile_template(source)
    token = _budget.set([MAX_ITERATIONS])
    try:
        out, size = [], 0
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise FlowTemplateError(f"the template rendered more than {MAX_OUTPUT // 1024} KiB")
            out.append(chunk)
        return "".join(out)
    except FlowTemplateError:
        raise
    except SecurityError as exc:
        raise FlowTemplateError(f"not allowed in a flow template: {exc}") from None
    except TemplateError as exc:
        raise FlowTemplateError(f"template error: {exc.message or exc}") from None
    except RecursionError:
        raise FlowTemplateError("template error: too much recursion") from None
    except (ArithmeticError, TypeError, ValueError, LookupError, OverflowError, MemoryError) as exc:
        raise FlowTemplateError(f"template error: {type(exc).__name__}: {exc}") from None
    finally:
        _budget.reset(token)


def render_value(value, context: dict, field: str):
    """Render a field that is a string, or each string inside a dict or list; other values pass through."""
    if isinstance(value, str):
        try:
            return render(value, context)
        except FlowTemplateError as exc:
            raise FlowTemplateError(f"{field}: {exc}") from None
    if isinstance(value, dict):
        return {key: render_value(item, context, f"{field}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, context, f"{field}[{i}]") for i, item in enumerate(value)]
    return value
