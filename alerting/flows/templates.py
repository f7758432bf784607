"""Flow step fields (SPEC §5) in the one sandbox for user templates (alerting.outbound.sandbox).

Fields see plain JSON data only (``alert``, ``trigger``, ``steps``). Flows configure the sandbox
so that a name that does not exist raises instead of rendering as empty text, and so that one
render may spend MAX_ITERATIONS loop turns and calls (nested loops then are allowed); every other
limit is the sandbox's own.
"""
from __future__ import annotations

from alerting.outbound.sandbox import MAX_OUTPUT, Sandbox, SandboxError

MAX_ITERATIONS = 10_000  # loop turns and calls per render, together
SANDBOX = Sandbox(missing="error", budget=MAX_ITERATIONS)
FlowTemplateError = SandboxError  # the sandbox's one error; flows word it as below


def _worded(exc: SandboxError) -> SandboxError:
    line = f" on line {exc.line}" if exc.line else ""
    text = {"syntax": f"template syntax error{line}: {exc.reason}",
            "not_allowed": f"not allowed in a flow template: {exc.reason}",
            "too_long": f"the template rendered more than {MAX_OUTPUT // 1024} KiB"}.get(
        exc.kind, f"template error: {exc.reason}")
    return SandboxError(exc.kind, text, exc.line)


def compile_template(source: str):
    """Compile one field; raise FlowTemplateError naming the line for a syntax error."""
    try:
        return SANDBOX.compile(source)
    except SandboxError as exc:
        raise _worded(exc) from None


def render(source: str, context: dict) -> str:
    """Render one field over ``context``; raise FlowTemplateError saying what went wrong."""
    if "{" not in source:
        return source  # plain text needs no template
    try:
        return SANDBOX.render(source, context)
    except SandboxError as exc:
        raise _worded(exc) from None


def render_value(value, context: dict, field: str):
    """Render a field that is a string, or each string inside a dict or list; other values pass through."""
    if isinstance(value, str):
        try:
            return render(value, context)
        except FlowTemplateError as exc:
            raise FlowTemplateError(exc.kind, f"{field}: {exc}", exc.line) from None
    if isinstance(value, dict):
        return {key: render_value(item, context, f"{field}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, context, f"{field}[{i}]") for i, item in enumerate(value)]
    return value
