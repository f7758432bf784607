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

The sandbox is the one of every user template (alerting.outbound.sandbox): custom mappings
configure it so that a missing name or null renders as empty text, and so that the whole mapping
has RENDER_SECONDS; every other limit (unsafe attributes fail, strings offer only harmless
methods, a {% for %} cannot nest, sizes, widths and numbers bounded before the work, 64 KiB per
field) is the sandbox's own.
"""
from __future__ import annotations

import json

from alerting.outbound.sandbox import Deadline, Sandbox, SandboxError
from alerting.sources import webhook
from alerting.sources.base import ACTIONS, AlertChange, SourceError

MAPPING_KEYS = ("action", "subject", "message", "priority", "properties", "recipients",
                "responseOptions", "expirationInMinutes", "dedupKey")
JSON_KEYS = ("properties", "recipients", "responseOptions", "expirationInMinutes")
RENDER_SECONDS = 1.0  # for the whole mapping, all fields together
SANDBOX = Sandbox(missing="empty")


def _worded(exc: SandboxError) -> str:
    if exc.kind == "syntax":
        return f"has a template error{f' on line {exc.line}' if exc.line else ''}: {exc.reason}"
    return {"not_allowed": f"is not allowed: {exc.reason}", "too_long": exc.reason}.get(
        exc.kind, f"could not be rendered: {exc.reason}")


def _render_value(value, where: str, payload, deadline: Deadline):
    if isinstance(value, str):
        try:
            return SANDBOX.render(value, {"payload": payload}, deadline).strip()
        except SandboxError as exc:
            raise SourceError(where, _worded(exc)) from None
    if isinstance(value, dict):
        return {key: _render_value(item, f"{where}.{key}", payload, deadline) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_value(item, f"{where}[{i}]", payload, deadline) for i, item in enumerate(value)]
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
    deadline = Deadline(RENDER_SECONDS)
    rendered = {key: _render_value(value, f"mapping.{key}", payload, deadline) for key, value in document.items()}
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
