"""Checking a flow definition (SPEC §5) before it is saved; every error names its field.

A definition is ``{"name", "enabled", "trigger": {"type", "response"?, "status"?}, "steps": [...]}``.
Step names are identifiers, unique in the whole flow (branches included), because templates reach
earlier steps as ``steps.<name>``. Every template field is compiled here, so a syntax error is a
400 when saving rather than a failed run later. Each step is checked even after another failed, and
the errors come together as FieldErrors keyed by path (``steps[1].cases.HIGH[0].url``), the first
of them being the one the API answers with, so a form can show each beside its step and field. An
http_request URL that is not a template, and not already in the saved definition, passes the
save-time SSRF check of every outbound URL.
"""
from __future__ import annotations

import re

from flask import current_app, has_app_context

from alerting.errors import Checks, FieldError
from alerting.flows.templates import FlowTemplateError, compile_template
from alerting.flows.triggers import TRIGGER_TYPES
from alerting.outbound.ssrf import check_url_for_save
from extensions import db
from models import PRIORITIES, STATUSES, Configuration

MAX_STEPS = 50  # in the whole definition, branches included
MAX_NESTING = 4  # switches inside switches
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ACTIONS = ("terminate", "suspend", "resume", "comment")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
FIELDS = {
    "http_request": {"method", "url", "headers", "body"},
    "create_alert": {"configuration", "subject", "message", "priority", "properties", "dedupKey"},
    "update_alert": {"action", "comment"},
    "switch": {"value", "cases", "default"},
}
STEP_TYPES = tuple(FIELDS)


def is_template(text: str) -> bool:
    """Does the text hold Jinja markup (so it can only be checked once rendered)?"""
    return "{{" in text or "{%" in text


def template(value, field: str, required: bool = False, max_len: int = 20000) -> str | None:
    """A template string: present if required, not too long, and compiling."""
    if value is None or (required and isinstance(value, str) and not value.strip()):
        if required:
            raise FieldError(field, "is required")
        return None
    if not isinstance(value, str):
        raise FieldError(field, "must be a string (a Jinja template)")
    if len(value) > max_len:
        raise FieldError(field, f"must be at most {max_len} characters")
    try:
        compile_template(value)
    except FlowTemplateError as exc:
        raise FieldError(field, str(exc)) from None
    return value


def template_map(value, field: str) -> dict:
    """An object whose string values are templates (headers, properties)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FieldError(field, "must be an object")
    for key, item in value.items():
        if isinstance(item, str):
            template(item, f"{field}.{key}")
        elif isinstance(item, (dict, list)):
            raise FieldError(f"{field}.{key}", "must be a string, number, true/false or null")
    return value


def validate_trigger(value) -> dict:
    """The trigger: a known event type, and a response option or status only where they apply."""
    if not isinstance(value, dict):
        raise FieldError("trigger", "must be an object such as {\"type\": \"alert.created\"}")
    kind = value.get("type")
    if kind not in TRIGGER_TYPES:
        raise FieldError("trigger.type", "must be one of " + ", ".join(TRIGGER_TYPES))
    unknown = set(value) - {"type", "response", "status"}
    if unknown:
        raise FieldError(f"trigger.{sorted(unknown)[0]}", "unknown field; a trigger takes type, response, status")
    trigger = {"type": kind}
    if value.get("response") not in (None, ""):
        if kind != "alert.response":
            raise FieldError("trigger.response", "only an alert.response trigger takes a response option")
        if not isinstance(value["response"], str) or len(value["response"]) > 200:
            raise FieldError("trigger.response", "must be the text of a response option")
        trigger["response"] = value["response"].strip()
    if value.get("status") not in (None, ""):
        status = value["status"]
        if kind != "alert.status":
            raise FieldError("trigger.status", "only an alert.status trigger takes a status")
        if not isinstance(status, str) or status.upper() not in STATUSES:
            raise FieldError("trigger.status", "must be one of " + ", ".join(STATUSES))
        trigger["status"] = status.upper()
    return trigger


class _Checker:
    """Walks the steps, branches included, counting them and collecting their names.

    ``saved_urls`` are the http_request URLs of the saved definition: they are not checked again.
    """

    def __init__(self, saved_urls: frozenset = frozenset()):
        self.names: set[str] = set()
        self.count = 0
        self.saved_urls = saved_urls
        self.checks = Checks()

    def steps(self, value, field: str, depth: int = 0) -> list:
        if not isinstance(value, list):
            raise FieldError(field, "must be a list of steps")
        for i, step in enumerate(value):
            self.checks.run(self.step, step, f"{field}[{i}]", depth)
        return value

    def step(self, step, field: str, depth: int) -> None:
        if not isinstance(step, dict):
            raise FieldError(field, "must be an object with name and type")
        self.count += 1
        if self.count > MAX_STEPS:
            raise FieldError(field, f"a flow has at most {MAX_STEPS} steps, branches included")
        name = step.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise FieldError(f"{field}.name", "must be a name of letters, digits and _ (e.g. open_ticket)")
        if name in self.names:
            raise FieldError(f"{field}.name", f"{name!r} is already the name of another step")
        self.names.add(name)
        kind = step.get("type")
        if kind not in FIELDS:
            raise FieldError(f"{field}.type", "must be one of " + ", ".join(STEP_TYPES))
        unknown = set(step) - FIELDS[kind] - {"name", "type"}
        if unknown:
            raise FieldError(f"{field}.{sorted(unknown)[0]}",
                             f"unknown field; {kind} takes " + ", ".join(sorted(FIELDS[kind])))
        getattr(self, kind)(step, field, depth)

    def http_request(self, step, field, _depth):
        method = step.get("method", "POST")
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise FieldError(f"{field}.method", "must be one of " + ", ".join(METHODS))
        url = template(step.get("url"), f"{field}.url", required=True, max_len=2000)
        if not is_template(url) and url.strip() not in self.saved_urls:
            allow = current_app.config["KLAXON"].webhook_allow_cidrs if has_app_context() else ()
            check_url_for_save(url.strip(), allow, f"{field}.url")
        template_map(step.get("headers"), f"{field}.headers")
        template(step.get("body"), f"{field}.body", max_len=64 * 1024)

    def create_alert(self, step, field, _depth):
        target = template(step.get("configuration"), f"{field}.configuration", required=True, max_len=200)
        known = is_template(target) or db.session.query(Configuration.id).filter_by(uuid=target.strip()).first()
        if not known:
            raise FieldError(f"{field}.configuration", f"no configuration {target!r}")
        for key in ("subject", "message", "dedupKey"):
            template(step.get(key), f"{field}.{key}")
        priority = template(step.get("priority"), f"{field}.priority", max_len=200)
        if priority and not is_template(priority) and priority.strip().upper() not in PRIORITIES:
            raise FieldError(f"{field}.priority", "must be one of " + ", ".join(PRIORITIES))
        template_map(step.get("properties"), f"{field}.properties")

    def update_alert(self, step, field, _depth):
        if step.get("action") not in ACTIONS:
            raise FieldError(f"{field}.action", "must be one of " + ", ".join(ACTIONS))
        template(step.get("comment"), f"{field}.comment", required=step["action"] == "comment", max_len=5000)

    def switch(self, step, field, depth):
        if depth >= MAX_NESTING:
            raise FieldError(field, f"switches may be nested at most {MAX_NESTING} deep")
        template(step.get("value"), f"{field}.value", required=True, max_len=2000)
        cases = step.get("cases")
        if not isinstance(cases, dict) or not cases:
            raise FieldError(f"{field}.cases", "must be an object of {value: [steps]}")
        if "default" in cases and "default" in step:
            raise FieldError(f"{field}.default", "give the default branch once: in cases or beside them")
        for value, branch in cases.items():
            self.steps(branch, f"{field}.cases.{value}", depth + 1)
        if "default" in step:
            self.steps(step["default"], f"{field}.default", depth + 1)


def request_urls(steps) -> frozenset:
    """The http_request URLs of a definition's steps, branches included (for "did it change?")."""
    found = set()
    for step in steps if isinstance(steps, list) else ():
        if not isinstance(step, dict):
            continue
        if step.get("type") == "http_request" and isinstance(step.get("url"), str):
            found.add(step["url"].strip())
        branches = list((step.get("cases") or {}).values()) if isinstance(step.get("cases"), dict) else []
        for branch in branches + [step.get("default")]:
            found |= request_urls(branch)
    return frozenset(found)


def validate_flow(data: dict, current: dict | None = None) -> dict:
    """The checked definition; with ``current`` (the saved one) only the given fields change."""
    if not isinstance(data, dict):
        raise FieldError("body", "must be a JSON object")
    unknown = set(data) - {"name", "enabled", "trigger", "steps"}
    if unknown:
        raise FieldError(sorted(unknown)[0], "unknown field; a flow has name, enabled, trigger, steps")
    merged = dict(current or {})
    merged.update(data)
    name = merged.get("name")
    checker = _Checker(request_urls((current or {}).get("steps")))
    checks = checker.checks
    checks.run(flow_name, name)
    enabled = merged.get("enabled", True)
    checks.run(flow_enabled, enabled)
    trigger = checks.run(validate_trigger, merged["trigger"]) if "trigger" in merged else \
        checks.run(_fail, "trigger", "is required, e.g. {\"type\": \"alert.created\"}")
    steps = checks.run(checker.steps, merged.get("steps", []), "steps")
    checks.done()
    assert isinstance(name, str)  # flow_name passed
    return {"name": name.strip(), "enabled": enabled, "trigger": trigger, "steps": steps}


def flow_name(name) -> None:
    if not isinstance(name, str) or not name.strip():
        raise FieldError("name", "is required")
    if len(name.strip()) > 200:
        raise FieldError("name", "must be at most 200 characters")


def flow_enabled(enabled) -> None:
    if not isinstance(enabled, bool):
        raise FieldError("enabled", "must be true or false")


def _fail(field: str, message: str) -> None:
    raise FieldError(field, message)
