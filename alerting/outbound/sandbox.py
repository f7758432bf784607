"""The one sandbox for user templates: custom mappings (SPEC §2) and flow step fields (SPEC §5).

A template sees plain JSON data through Jinja's immutable sandbox, with more refused:
- no attribute starting with ``_``, no mutation; strings offer only STR_METHODS and numbers no
  methods at all; an unsafe attribute fails instead of rendering empty;
- globals are ``range`` (bounded) and ``dict`` only: no ``cycler``, ``joiner``, ``lipsum`` or
  ``namespace`` (which would carry a value across loop turns to grow it turn by turn);
- no recursive loop, no include/import (there is no loader), calls nested at most MAX_CALL_DEPTH;
- every limit of alerting.outbound.sandbox_bounds is checked before the work it bounds: ``*``,
  ``**``, ``+``, ``%``, ``~``, list/tuple/dict literals, calls, filters and output;
- each render returns at most MAX_OUTPUT characters and produces at most MAX_VALUE in all
  (text built inside macros and ``{% set %}`` blocks included);
- a deadline is checked at every attribute, item, call, filter, operator, output and loop turn.

Each user configures it only through parameters: ``missing`` ("error" raises for a name that
does not exist, for flows; "empty" renders it and None as empty text, for custom mappings),
``budget`` (loop turns and calls per render, for flows; without one a ``{% for %}`` may not nest)
and the :class:`Deadline` passed to :meth:`Sandbox.render` (custom mappings share one across a
mapping's fields; by default each render has DEFAULT_SECONDS).
"""
from __future__ import annotations

import functools

from jinja2 import (
    ChainableUndefined,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    nodes,
)
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from alerting.outbound import sandbox_bounds as bounds
from alerting.outbound import sandbox_runtime as runtime
from alerting.outbound.sandbox_bounds import (  # noqa: F401  (the one set of limits, named here too)
    MAX_CALL_DEPTH,
    MAX_INT_BITS,
    MAX_OUTPUT,
    MAX_RANGE,
    MAX_VALUE,
    MAX_WIDTH,
)
from alerting.outbound.sandbox_runtime import Deadline

DEFAULT_SECONDS = 1.0
STR_METHODS = frozenset((
    "capitalize", "casefold", "count", "endswith", "find", "format", "format_map", "index", "isalnum", "isalpha",
    "isdecimal", "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "lower", "lstrip", "partition",
    "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rpartition", "rsplit", "rstrip", "split",
    "splitlines", "startswith", "strip", "swapcase", "title", "upper"))
# Filters whose width or layout arguments multiply their input (and which plain-text fields do not need).
REMOVED_FILTERS = ("indent", "wordwrap", "pprint", "urlize")


class SandboxError(ValueError):
    """A template could not be compiled or rendered; ``str()`` says why.

    ``kind`` is "syntax" (``line`` says where), "not_allowed" (a sandbox rule or limit),
    "too_long" (more than MAX_OUTPUT characters) or "error" (the template failed as Python would).
    """

    def __init__(self, kind: str, reason: str, line: int | None = None):
        super().__init__(reason)
        self.kind, self.reason, self.line = kind, reason, line


class _Guard(NodeTransformer):
    """Rewrites a parsed template so loops, literals, ``~`` and the template's own text pass a check."""

    def __init__(self, nested_loops: bool):
        self.nested_loops = nested_loops

    def visit_For(self, node):
        if node.recursive:
            raise SecurityError("recursive loops are not allowed")
        if not self.nested_loops and any(True for _ in node.find_all(nodes.For)):
            raise SecurityError("a {% for %} inside another {% for %} is not allowed")
        node = self.generic_visit(node)
        node.iter = _filter(node.iter, "_loop")
        return node

    def visit_Output(self, node):
        node = self.generic_visit(node)
        node.nodes = [_filter(nodes.Const(child.data, lineno=child.lineno)
                              if isinstance(child, nodes.TemplateData) else child, "_emit") for child in node.nodes]
        return node

    def visit_Concat(self, node):
        node = self.generic_visit(node)
        return _filter(nodes.List(node.nodes, lineno=node.lineno), "_concat")

    def _literal(self, node):
        node = self.generic_visit(node)
        return node if getattr(node, "ctx", "load") != "load" else _filter(node, "_built")

    visit_List = visit_Tuple = visit_Dict = _literal


def _filter(node, name: str):
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


class _Environment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the operators, calls, attributes and output kept in bounds."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, nested_loops: bool, **kwargs):
        super().__init__(**kwargs)
        self.nested_loops = nested_loops

    def _parse(self, source, name, filename):
        return _Guard(self.nested_loops).visit(super()._parse(source, name, filename))

    def call_binop(self, context, operator, left, right):
        runtime.tick()
        bounds.check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(self, context, obj, /, *args, **kwargs):
        render = runtime.enter_call()
        try:
            bounds.check_arguments(args, kwargs)
            if getattr(obj, "__name__", None) == "replace" and isinstance(getattr(obj, "__self__", None), str) \
                    and len(args) >= 2:
                bounds.check_replace(obj.__self__, *args[:3])
            return super().call(context, obj, *args, **kwargs)
        finally:
            runtime.leave_call(render)

    def getattr(self, obj, attribute):
        runtime.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        runtime.tick()
        return super().getitem(obj, argument)

    def is_safe_attribute(self, obj, attr, value):
        if callable(value) and (isinstance(obj, (int, float)) or (isinstance(obj, str) and attr not in STR_METHODS)):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj, attribute):
        # fail loudly: Jinja's default renders an empty string, hiding the attempt
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def wrap_str_format(self, value):
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__
        bounds.format_cost(fmt)  # refuses wide or nested specs as soon as the method is named

        @functools.wraps(wrapped)
        def checked(*args, **kwargs):
            mapping = args[0] if value.__name__ == "format_map" and args and isinstance(args[0], dict) else {}
            bounds.check_format_call(fmt, args if not mapping else (), {**kwargs, **mapping})
            return wrapped(*args, **kwargs)
        return checked


def _empty_for_none(value):
    return "" if value is None else value


def make_environment(missing: str, nested_loops: bool) -> _Environment:
    """The one environment factory: ``missing`` is "error" (StrictUndefined) or "empty"."""
    if missing not in ("error", "empty"):
        raise ValueError("missing must be 'error' or 'empty'")
    env = _Environment(nested_loops, undefined=StrictUndefined if missing == "error" else ChainableUndefined,
                       autoescape=False, keep_trailing_newline=True,
                       finalize=_empty_for_none if missing == "empty" else None)
    env.globals = {"range": runtime.bounded_range, "dict": dict}
    env.filters = runtime.checked_filters(env.filters, REMOVED_FILTERS)
    return env


class Sandbox:
    """One configured use of the sandbox: compile and render templates within its limits."""

    def __init__(self, *, missing: str, budget: int | None = None):
        self.budget = budget
        self.env = make_environment(missing, nested_loops=budget is not None)
        self.compile = functools.lru_cache(maxsize=512)(self._compile)

    def _compile(self, source: str):
        """The compiled template, or SandboxError ("syntax" or "not_allowed")."""
        try:
            return self.env.from_string(source)
        except TemplateSyntaxError as exc:
            raise SandboxError("syntax", exc.message or str(exc), exc.lineno) from None
        except SecurityError as exc:
            raise SandboxError("not_allowed", str(exc)) from None
        except TemplateError as exc:
            raise SandboxError("syntax", exc.message or str(exc)) from None

    def render(self, source: str, context: dict, deadline: Deadline | None = None) -> str:
        """Render ``source`` over ``context``; raise SandboxError saying what went wrong."""
        template = self.compile(source)
        token = runtime.begin(deadline or Deadline(DEFAULT_SECONDS), self.budget)
        try:
            parts, length = [], 0
            for chunk in template.generate(**context):
                length += len(chunk)
                if length > MAX_OUTPUT:
                    raise SandboxError("too_long", f"renders more than {MAX_OUTPUT} characters")
                parts.append(chunk)
            return "".join(parts)
        except SandboxError:
            raise
        except SecurityError as exc:
            raise SandboxError("not_allowed", str(exc)) from None
        except TemplateError as exc:
            raise SandboxError("error", exc.message or str(exc)) from None
        except RecursionError:
            raise SandboxError("error", "too much recursion") from None
        except Exception as exc:  # a template can fail in any way: TypeError, ZeroDivisionError, MemoryError …
            raise SandboxError("error", f"{type(exc).__name__}: {str(exc)[:200]}") from None
        finally:
            runtime.end(token)
