"""Flows (SPEC §5): a trigger and steps on a configuration, run in workers.

``validate`` checks a definition, ``triggers`` starts runs from events, ``engine`` runs them,
``steps`` holds what each kind of step does and ``templates`` the sandbox their fields render in.
"""
from __future__ import annotations

from alerting.errors import Conflict
from alerting.flows.validate import validate_flow
from extensions import db
from models import Configuration, Flow, FlowRun, iso, utcnow


def save_flow(cfg: Configuration, data: dict, flow: Flow | None = None) -> Flow:
    """Create (or, given ``flow``, change) a flow of ``cfg`` from a checked definition; the caller commits."""
    current = {"name": flow.name, "enabled": flow.enabled, "trigger": flow.trigger, "steps": flow.steps} \
        if flow else None
    checked = validate_flow(data, current)
    taken = db.session.query(Flow.id).filter(Flow.configuration_id == cfg.id, Flow.name == checked["name"])
    if flow is not None:
        taken = taken.filter(Flow.id != flow.id)
    if taken.first():
        raise Conflict(f"name: this configuration already has a flow named {checked['name']!r}")
    if flow is None:
        flow = Flow(configuration_id=cfg.id, configuration=cfg, created_at=utcnow())
        db.session.add(flow)
    flow.name, flow.enabled = checked["name"], checked["enabled"]
    flow.trigger, flow.steps = checked["trigger"], checked["steps"]
    flow.updated_at = utcnow()
    db.session.flush()
    return flow


def flow_json(flow: Flow) -> dict:
    """A flow as the REST API shows it."""
    return {"id": flow.id, "flowId": flow.id, "name": flow.name, "enabled": flow.enabled,
            "trigger": flow.trigger, "steps": flow.steps,
            "configuration": flow.configuration.uuid if flow.configuration else None,
            "createdAt": iso(flow.created_at), "updatedAt": iso(flow.updated_at)}


def run_json(run: FlowRun) -> dict:
    """A run with its steps' records (the sample alert it saw is left out)."""
    trigger = {k: v for k, v in (run.trigger or {}).items() if k != "sampleAlert"}
    return {"id": run.id, "flowId": run.flow_id, "status": run.status, "error": run.error, "trigger": trigger,
            "eventIdentifier": run.alert_id, "test": bool(trigger.get("test")),
            "sampleAlert": "sampleAlert" in (run.trigger or {}),
            "createdAt": iso(run.created_at), "startedAt": iso(run.started_at), "finishedAt": iso(run.finished_at),
            "steps": [{"name": s.get("name"), "type": s.get("type"), "status": s.get("status"),
                       "input": s.get("input"), "output": s.get("output"), "error": s.get("error"),
                       "durationMs": s.get("durationMs")} for s in run.steps or []]}
