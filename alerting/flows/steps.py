"""What each kind of step does: render its fields, act, and say what happened (SPEC §5).

A step function takes the run's :class:`RunState` and the step's definition and returns a
:class:`Result`, or raises :class:`StepFailed`. Later steps see each result as
``steps.<name>``: ``status`` (the HTTP status code of an ``http_request``, else the step's own
status), ``json`` (the reply parsed as JSON, else the step's output), ``body`` (the reply text)
and ``output`` (what the run record shows).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from flask import current_app

from alerting.alerts.lifecycle import InvalidTransition, add_timeline, annotate, change_status
from alerting.errors import FieldError
from alerting.flows.templates import FlowTemplateError, render_value
from alerting.outbound import http
from alerting.sources.base import AlertChange
from extensions import db
from models import PRIORITIES, Alert, Configuration, FlowRun

MAX_DEPTH = 3  # a flow-created alert may start flows that create alerts, three levels at most
HTTP_TIMEOUT = 10.0  # the same as update webhooks
SHOWN_BYTES = 16 * 1024  # of a body kept in the run record; templates see up to 64 KiB
SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|key|password|signature", re.I)
STATUS_FOR = {"terminate": "TERMINATED_EXTERNAL", "suspend": "SUSPENDED", "resume": "ACTIVE"}


class StepFailed(Exception):
    """The step could not do its work; the run stops here. ``error_class`` names the kind."""

    def __init__(self, message: str, input: dict | None = None, output: dict | None = None,
                 error_class: str | None = None):
        super().__init__(message)
        self.input, self.output, self.error_class = input or {}, output, error_class


@dataclass
class Result:
    input: dict
    output: dict
    status: str = "succeeded"  # or "skipped" (a dry run of a sample alert)
    branch: list | None = None  # the steps a switch chose
    seen: dict | None = None  # what templates see as steps.<name>, when not the default


@dataclass
class RunState:
    """Everything a run carries from step to step."""
    run: FlowRun
    alert: Alert | None
    alert_json: dict
    trigger: dict
    depth: int
    dry_run: bool
    deadline: float
    steps: dict = field(default_factory=dict)
    executed: int = 0

    @property
    def actor(self) -> str:
        return f"flow:{self.run.flow.name}"[:64]

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def context(self) -> dict:
        return {"alert": self.alert_json, "trigger": self.trigger, "steps": self.steps}


def alert_json(alert: Alert) -> dict:
    """The ``alert`` templates see."""
    return {"alertId": alert.uuid, "eventIdentifier": alert.id, "status": alert.status, "priority": alert.priority,
            "subject": alert.subject, "message": alert.message, "properties": dict(alert.properties or {}),
            "dedupKey": alert.dedup_key,
            "configuration": alert.configuration.uuid if alert.configuration else None}


def render_fields(state: RunState, step: dict, names: tuple) -> dict:
    """Render the named fields in order; a failure keeps what rendered so far as the step's input."""
    rendered = {}
    for name in names:
        if step.get(name) is not None:
            try:
                rendered[name] = render_value(step[name], state.context(), name)
            except FlowTemplateError as exc:
                raise StepFailed(str(exc), rendered, error_class="template") from None
    return rendered


def clip(text: str, limit: int = SHOWN_BYTES) -> str:
    """At most ``limit`` characters, saying how many more there were."""
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


def redact(headers: dict) -> dict:
    """Header values that look like credentials are not kept in the run record."""
    return {k: ("••••" if SECRET_HEADER.search(k) else v) for k, v in headers.items()}


def http_request(state: RunState, step: dict) -> Result:
    """Send the request with the update webhooks' SSRF guard and timeout; a non-2xx fails the step."""
    fields = render_fields(state, step, ("url", "headers", "body"))
    method = step.get("method", "POST").upper()
    headers = {str(k): "" if v is None else str(v) for k, v in (fields.get("headers") or {}).items()}
    body = fields.get("body") or ""
    if body.lstrip()[:1] in ("{", "[") and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    shown = {"method": method, "url": fields["url"].strip(), "headers": redact(headers), "body": clip(body)}
    timeout = max(0.5, min(HTTP_TIMEOUT, state.remaining()))
    db.session.commit()  # nothing to write here; on SQLite an open transaction would hold the write lock
    session = http.session(current_app.config["KLAXON"].webhook_allow_cidrs)
    outcome = http.post(session, shown["url"], body.encode(), headers, timeout=timeout, method=method)
    output = {"status": outcome.status_code, "json": outcome.json if len(outcome.body) <= SHOWN_BYTES else None,
              "body": clip(outcome.body), "errorClass": outcome.error_class, "durationMs": outcome.duration_ms}
    if not outcome.ok:
        raise StepFailed(f"{outcome.error_class}: {outcome.error}", shown, output, outcome.error_class)
    return Result(shown, output, seen={"status": outcome.status_code, "json": outcome.json, "body": outcome.body,
                                       "headers": outcome.headers, "output": output})


def _change(fields: dict, priority: str | None) -> AlertChange:
    return AlertChange(action="trigger", dedup_key=(fields.get("dedupKey") or "").strip()[:255] or None,
                       subject=(fields.get("subject") or "").strip() or None, message=fields.get("message") or None,
                       priority=priority, properties=fields.get("properties") or {})


def create_alert(state: RunState, step: dict) -> Result:
    """Create an alert in any configuration, exactly as an inbound trigger would."""
    from alerting.alerts.create import create_alert as create

    fields = render_fields(state, step, ("configuration", "subject", "message", "priority", "properties", "dedupKey"))
    cfg_uuid = fields["configuration"].strip()
    cfg = db.session.query(Configuration).filter_by(uuid=cfg_uuid).first()
    if cfg is None:
        raise StepFailed(f"configuration: no configuration {cfg_uuid!r}", fields, error_class="configuration")
    if not cfg.enabled:
        raise StepFailed(f"configuration: {cfg.name!r} is disabled", fields, error_class="configuration")
    priority = (fields.get("priority") or "").strip().upper() or None
    if priority is not None and priority not in PRIORITIES:
        raise StepFailed(f"priority: {priority!r} must be one of HIGH, MEDIUM, LOW", fields, error_class="value")
    if state.depth >= MAX_DEPTH:
        raise StepFailed(f"this alert comes from a chain of {state.depth} flows; flows may create alerts "
                         f"only {MAX_DEPTH} levels deep", fields, error_class="depth")
    if state.dry_run:
        return Result(fields, {"dryRun": True, "configuration": cfg.uuid}, status="skipped")
    outcome = create(cfg, _change(fields, priority), actor=state.actor)
    alert = outcome.alert
    assert alert is not None  # create_alert always returns the alert it made or matched
    if outcome.action == "created":
        add_timeline(alert, "FLOW_RUN", actor=state.actor, flow=state.run.flow.name, flowId=state.run.flow_id,
                     runId=state.run.id, createdByFlow=True, depth=state.depth + 1)
    return Result(fields, {"alertId": alert.uuid, "eventIdentifier": alert.id, "status": alert.status,
                           "configuration": cfg.uuid, "deduplicated": outcome.deduplicated})


def update_alert(state: RunState, step: dict) -> Result:
    """Terminate, suspend, resume or comment on the alert that started the run."""
    fields = render_fields(state, step, ("comment",))
    action = step["action"]
    shown = {"action": action, **fields}
    comment = (fields.get("comment") or "").strip()[:5000]
    if state.dry_run:
        return Result(shown, {"dryRun": True}, status="skipped")
    if state.alert is None:
        raise StepFailed("the alert that started this run no longer exists", shown, error_class="alert")
    if action == "comment":
        if not comment:
            raise StepFailed("comment: the template rendered no text", shown, error_class="value")
        annotate(state.alert, comment, actor=state.actor)
        changed = True
    else:
        try:
            changed = change_status(state.alert, STATUS_FOR[action], actor=state.actor,
                                    reason=comment or f"flow {state.run.flow.name!r}")
        except InvalidTransition as exc:
            raise StepFailed(str(exc), shown, error_class="status") from None
    state.alert_json = alert_json(state.alert)
    return Result(shown, {"status": state.alert.status, "changed": changed})


def switch(state: RunState, step: dict) -> Result:
    """Pick the branch whose case equals the rendered value (trimmed), else the default branch."""
    value = render_fields(state, step, ("value",))["value"].strip()
    cases = step["cases"]
    if value in cases and value != "default":
        chosen, branch = value, cases[value]
    elif "default" in cases or "default" in step:
        chosen, branch = "default", cases.get("default", step.get("default"))
    else:
        chosen, branch = None, []
    return Result({"value": value}, {"value": value, "branch": chosen}, branch=branch)


STEPS = {"http_request": http_request, "create_alert": create_alert, "update_alert": update_alert,
         "switch": switch}


def run_step(state: RunState, step: dict) -> tuple[dict, Result | None, StepFailed | None]:
    """Run one step; return its record for the run, and its result or why it failed."""
    started = time.monotonic()
    result = failure = None
    try:
        result = STEPS[step["type"]](state, step)
    except StepFailed as exc:
        failure = exc
    except FieldError as exc:  # a value create_alert refused (e.g. a property of the wrong type)
        failure = StepFailed(exc.message, error_class="value")
    done = failure if failure is not None else result
    assert done is not None  # a step either returns its Result or raises
    record = {"name": step["name"], "type": step["type"],
              "status": "failed" if isinstance(done, StepFailed) else done.status,
              "input": done.input,
              "output": done.output,
              "error": str(failure) if failure else None,
              "errorClass": failure.error_class if failure else None,
              "durationMs": int((time.monotonic() - started) * 1000)}
    return record, result, failure
