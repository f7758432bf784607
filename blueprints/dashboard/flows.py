"""The Flows tab of a configuration: list, create and edit flows (trigger form, steps as JSON, reorder,
enable), a diagram of each flow, its recent runs step by step, and "Run with a sample alert"."""
from __future__ import annotations

import json

from flask import abort, flash, redirect, request, url_for

from alerting import flows as flow_defs
from alerting.errors import Conflict, FieldError
from alerting.events import KINDS
from alerting.flows.triggers import start_test_run
from blueprints.dashboard import bp
from blueprints.dashboard.configurations import get_configuration
from blueprints.dashboard.forms import admin_required, render
from extensions import db
from models import STATUSES, Alert, Flow, FlowRun

BASE = "/integrations/<config_uuid>/flows"
TRIGGER_LABELS = {"alert.created": "An alert is created", "alert.status": "An alert changes status",
                  "notification.delivery": "A notification is delivered or fails",
                  "alert.response": "Someone responds"}
STARTER_STEPS = [{"name": "ticket", "type": "http_request", "method": "POST", "url": "https://tickets.example.com/api",
                  "headers": {"Content-Type": "application/json"}, "body": "{\"title\": {{ alert.subject | tojson }}}"},
                 {"name": "note", "type": "update_alert", "action": "comment",
                  "comment": "Ticket {{ steps.ticket.json.ticket }}"}]
RUNS_SHOWN = 20


def get_flow(cfg, flow_id) -> Flow:
    flow = db.session.query(Flow).filter_by(id=flow_id, configuration_id=cfg.id).first()
    if flow is None:
        abort(404)
    return flow


def form_values(flow: Flow | None) -> dict:
    if flow is None:
        return {"name": "", "enabled": True, "triggerType": "alert.created", "triggerResponse": "",
                "triggerStatus": "", "steps": json.dumps(STARTER_STEPS, indent=2)}
    return {"name": flow.name, "enabled": flow.enabled, "triggerType": flow.trigger.get("type", ""),
            "triggerResponse": flow.trigger.get("response", ""), "triggerStatus": flow.trigger.get("status", ""),
            "steps": json.dumps(flow.steps, indent=2)}


def typed_values() -> dict:
    form = request.form
    return {"name": form.get("name", ""), "enabled": form.get("enabled") == "on",
            "triggerType": form.get("triggerType", ""), "triggerResponse": form.get("triggerResponse", ""),
            "triggerStatus": form.get("triggerStatus", ""), "steps": form.get("steps", "")}


def definition(values: dict) -> dict:
    """The form as the REST API's body; a response or status only goes with the trigger it belongs to."""
    trigger = {"type": values["triggerType"]}
    if values["triggerType"] == "alert.response" and values["triggerResponse"]:
        trigger["response"] = values["triggerResponse"]
    if values["triggerType"] == "alert.status" and values["triggerStatus"]:
        trigger["status"] = values["triggerStatus"]
    try:
        steps = json.loads(values["steps"] or "[]")
    except ValueError as exc:
        raise FieldError("steps", f"is not valid JSON: {exc}") from None
    return {"name": values["name"], "enabled": values["enabled"], "trigger": trigger, "steps": steps}


def errors_of(exc: Exception) -> dict:
    """Errors keyed by the form field they show beside (a step's path stays in the message)."""
    field = getattr(exc, "field", "name")
    message = str(exc)
    key = {"trigger.response": "triggerResponse", "trigger.status": "triggerStatus"}.get(field)
    if key is None:
        key = "steps" if field.startswith("steps") else "triggerType" if field.startswith("trigger") else "name"
    if key == "steps":
        return {key: message}
    message = message.removeprefix(f"{field}: ").removeprefix("name: ")
    return {key: message[:1].upper() + message[1:]}


def editor(cfg, flow, values, errors=None, status=200):
    runs = db.session.query(FlowRun).filter_by(flow_id=flow.id).order_by(FlowRun.id.desc()) \
        .limit(RUNS_SHOWN).all() if flow else []
    return render("dashboard/flows/flow.html", None, status=status, cfg=cfg, flow=flow, values=values,
                  errors=errors or {}, runs=runs, diagram=diagram(flow, runs[0] if runs else None) if flow else None,
                  kinds=KINDS, labels=TRIGGER_LABELS, statuses=STATUSES, tab="flows")


@bp.get(f"{BASE}/")
@admin_required
def flows_list(config_uuid):
    cfg = get_configuration(config_uuid)
    items = db.session.query(Flow).filter_by(configuration_id=cfg.id).order_by(Flow.id).all()
    last = {f.id: db.session.query(FlowRun).filter_by(flow_id=f.id).order_by(FlowRun.id.desc()).first()
            for f in items}
    return render("dashboard/flows/list.html", None, cfg=cfg, flows=items, last_runs=last, labels=TRIGGER_LABELS,
                  tab="flows")


@bp.get(f"{BASE}/new")
@admin_required
def new_flow(config_uuid):
    return editor(get_configuration(config_uuid), None, form_values(None))


@bp.post(f"{BASE}/new")
@admin_required
def create_flow(config_uuid):
    cfg = get_configuration(config_uuid)
    values = typed_values()
    try:
        flow = flow_defs.save_flow(cfg, definition(values))
    except (FieldError, Conflict) as exc:
        db.session.rollback()
        return editor(cfg, None, values, errors_of(exc), status=422)
    db.session.commit()
    flash(f"Saved flow “{flow.name}”.", "success")
    return redirect(url_for("dashboard.flow_page", config_uuid=cfg.uuid, flow_id=flow.id))


@bp.get(f"{BASE}/<int:flow_id>")
@admin_required
def flow_page(config_uuid, flow_id):
    cfg = get_configuration(config_uuid)
    flow = get_flow(cfg, flow_id)
    return editor(cfg, flow, form_values(flow))


@bp.post(f"{BASE}/<int:flow_id>")
@admin_required
def update_flow(config_uuid, flow_id):
    cfg = get_configuration(config_uuid)
    flow = get_flow(cfg, flow_id)
    values = typed_values()
    try:
        flow_defs.save_flow(cfg, definition(values), flow)
    except (FieldError, Conflict) as exc:
        db.session.rollback()
        return editor(cfg, get_flow(cfg, flow_id), values, errors_of(exc), status=422)
    db.session.commit()
    flash("Flow saved.", "success")
    return redirect(url_for("dashboard.flow_page", config_uuid=cfg.uuid, flow_id=flow.id))


def saved(cfg, flow, change: dict, message: str) -> None:
    """Apply a one-field change from a button; a definition that no longer passes its checks says why."""
    try:
        flow_defs.save_flow(cfg, change, flow)
    except (FieldError, Conflict) as exc:
        db.session.rollback()
        flash(f"Not saved: {exc}", "error")
        return
    db.session.commit()
    flash(message, "success")


@bp.post(f"{BASE}/<int:flow_id>/move")
@admin_required
def move_flow_step(config_uuid, flow_id):
    """Swap a top-level step with its neighbour above or below, and save."""
    cfg = get_configuration(config_uuid)
    flow = get_flow(cfg, flow_id)
    steps = list(flow.steps or [])
    index = request.form.get("index", type=int)
    other = index + (-1 if request.form.get("direction") == "up" else 1) if index is not None else -1
    if index is None or not (0 <= index < len(steps) and 0 <= other < len(steps)):
        abort(400)
    steps[index], steps[other] = steps[other], steps[index]
    saved(cfg, flow, {"steps": steps}, "Step moved.")
    return redirect(url_for("dashboard.flow_page", config_uuid=cfg.uuid, flow_id=flow.id) + "#steps")


@bp.post(f"{BASE}/<int:flow_id>/toggle")
@admin_required
def toggle_flow(config_uuid, flow_id):
    cfg = get_configuration(config_uuid)
    flow = get_flow(cfg, flow_id)
    saved(cfg, flow, {"enabled": not flow.enabled}, f"“{flow.name}” is {'off' if flow.enabled else 'on'}.")
    if request.form.get("back") == "flow":
        return redirect(url_for("dashboard.flow_page", config_uuid=cfg.uuid, flow_id=flow.id))
    return redirect(url_for("dashboard.flows_list", config_uuid=cfg.uuid))


@bp.post(f"{BASE}/<int:flow_id>/delete")
@admin_required
def delete_flow(config_uuid, flow_id):
    cfg = get_configuration(config_uuid)
    flow = get_flow(cfg, flow_id)
    db.session.query(FlowRun).filter_by(flow_id=flow.id).delete(synchronize_session=False)
    db.session.delete(flow)
    db.session.commit()
    flash(f"Deleted flow “{flow.name}”.", "success")
    return redirect(url_for("dashboard.flows_list", config_uuid=cfg.uuid))


@bp.post(f"{BASE}/<int:flow_id>/test")
@admin_required
def test_flow(config_uuid, flow_id):
    """Queue a test run: the sample alert (a dry run), or the alert whose number was given."""
    cfg = get_configuration(config_uuid)
    flow = get_flow(cfg, flow_id)
    number = request.form.get("alert", "").strip().lstrip("#")
    alert = None
    if number:
        alert = db.session.query(Alert).filter_by(id=int(number), configuration_id=cfg.id).first() \
            if number.isdigit() else None
        if alert is None:
            flash(f"No alert #{number} in {cfg.name}.", "error")
            return redirect(url_for("dashboard.flow_page", config_uuid=cfg.uuid, flow_id=flow.id) + "#runs")
    run = start_test_run(flow, alert)
    db.session.commit()
    flash(f"Run #{run.id} queued " + (f"on alert #{alert.id}." if alert else "with the sample alert."), "success")
    return redirect(url_for("dashboard.flow_page", config_uuid=cfg.uuid, flow_id=flow.id) + "#runs")


@bp.get(f"{BASE}/<int:flow_id>/runs")
@admin_required
def flow_runs(config_uuid, flow_id):
    """The runs section alone, for HTMX to poll while a run is pending or running."""
    cfg = get_configuration(config_uuid)
    flow = get_flow(cfg, flow_id)
    runs = db.session.query(FlowRun).filter_by(flow_id=flow.id).order_by(FlowRun.id.desc()).limit(RUNS_SHOWN).all()
    if not request.headers.get("HX-Request"):
        return redirect(url_for("dashboard.flow_page", config_uuid=cfg.uuid, flow_id=flow.id) + "#runs")
    return render("dashboard/flows/flow.html", "runs", cfg=cfg, flow=flow, runs=runs)


# The diagram: boxes and elbow arrows laid out here, drawn as inline SVG by the template.
BOX_W, BOX_H, GAP_Y, GAP_X, LABEL_H, MARGIN = 210, 46, 30, 24, 16, 16


def summary(step: dict) -> str:
    kind = step.get("type")
    if kind == "http_request":
        return f"{step.get('method', 'POST')} {step.get('url', '').split('://')[-1]}"
    if kind == "create_alert":
        return "create alert"
    if kind == "update_alert":
        return f"{step.get('action', '')} the alert"
    return f"switch on {step.get('value', '').strip('{} ')}"


def branches(step: dict) -> list[tuple[str, list]]:
    cases = step.get("cases") or {}
    out = [(k, v) for k, v in cases.items() if k != "default"]
    default = cases.get("default", step.get("default"))
    return out + ([("default", default)] if default is not None else [])


def width_of(steps: list) -> int:
    widest = BOX_W
    for step in steps:
        if step.get("type") == "switch":
            parts = [width_of(b) for _, b in branches(step)]
            widest = max(widest, sum(parts) + GAP_X * (len(parts) - 1))
    return widest


def place(steps: list, cx: float, y: float, out: dict, statuses: dict) -> float:
    """Draw ``steps`` down from ``y`` centred on ``cx``; return the y where the last one ends."""
    for step in steps:
        out["paths"].append({"d": f"M{cx},{y} V{y + GAP_Y - 2}", "arrow": True})
        y += GAP_Y
        out["boxes"].append({"x": cx - BOX_W / 2, "y": y, "title": step.get("name", "?")[:26],
                             "sub": summary(step)[:30], "kind": step.get("type"),
                             "status": statuses.get(step.get("name"))})
        y += BOX_H
        if step.get("type") != "switch":
            continue
        parts = branches(step)
        widths = [width_of(b) for _, b in parts]
        left, ends = cx - (sum(widths) + GAP_X * (len(parts) - 1)) / 2, []
        for (label, branch), w in zip(parts, widths, strict=True):
            bx = left + w / 2
            out["paths"].append({"d": f"M{cx},{y} V{y + GAP_Y / 2} H{bx} V{y + GAP_Y / 2 + LABEL_H}", "arrow": False})
            out["labels"].append({"x": bx + 6, "y": y + GAP_Y / 2 + LABEL_H - 2, "text": label[:20]})
            ends.append((bx, place(branch, bx, y + GAP_Y / 2 + LABEL_H, out, statuses)))
            left += w + GAP_X
        join = max(end for _, end in ends) + GAP_Y / 2
        for bx, end in ends:
            out["paths"].append({"d": f"M{bx},{end} V{join} H{cx}", "arrow": False})
        y = join
    return y


def diagram(flow: Flow, last_run: FlowRun | None) -> dict:
    """Boxes, paths and labels of the flow, coloured by how its steps did in the latest run."""
    statuses = {s.get("name"): s.get("status") for s in (last_run.steps if last_run else [])}
    width = width_of(flow.steps or []) + 2 * MARGIN
    out = {"boxes": [{"x": width / 2 - BOX_W / 2, "y": MARGIN, "title": "When",
                      "sub": TRIGGER_LABELS.get(flow.trigger.get("type"), "?")[:30], "kind": "trigger",
                      "status": None}], "paths": [], "labels": []}
    end = place(flow.steps or [], width / 2, MARGIN + BOX_H, out, statuses)
    out.update(width=width, height=end + MARGIN, box_w=BOX_W, box_h=BOX_H)
    return out
