"""The Flows tab of a configuration: list, create and edit flows (the trigger, then steps as forms per
step type or as JSON under "Advanced", the two round-tripping), a diagram of each flow, its recent runs
step by step, and "Run with a sample alert"."""
from __future__ import annotations

import json

from flask import abort, flash, redirect, request, url_for

from alerting import flows as flow_defs
from alerting.errors import Conflict, FieldError, FieldErrors
from alerting.flows import reference
from alerting.flows.triggers import TRIGGER_TYPES, start_test_run
from alerting.flows.validate import ACTIONS, METHODS
from alerting.ids import row_id
from blueprints.dashboard import bp
from blueprints.dashboard.configurations import get_configuration
from blueprints.dashboard.flow_diagram import diagram
from blueprints.dashboard.flow_form import FormTree, definition_steps, editable, parsed_steps, step_names, step_views
from blueprints.dashboard.forms import admin_required, error_status, is_htmx, render
from extensions import db
from models import PRIORITIES, STATUSES, Alert, Configuration, Flow, FlowRun

BASE = "/integrations/<config_uuid>/flows"
TRIGGER_LABELS = {"alert.created": "An alert is created", "alert.status": "An alert changes status",
                  "notification.delivery": "A notification is delivered or fails",
                  "alert.response": "Someone responds"}
TRIGGER_KEYS = {"trigger.response": "triggerResponse", "trigger.status": "triggerStatus"}
STARTER_STEPS = [{"name": "ticket", "type": "http_request", "method": "POST", "url": "https://tickets.example.com/api",
                  "headers": {"Content-Type": "application/json"}, "body": "{\"title\": {{ alert.subject | tojson }}}"},
                 {"name": "note", "type": "update_alert", "action": "comment",
                  "comment": "Ticket {{ steps.ticket.json.ticket }}"}]
RUNS_SHOWN = 20


def flow_of(config_uuid, flow_id) -> tuple[Configuration, Flow]:
    """The configuration and its flow, or 404."""
    cfg = get_configuration(config_uuid)
    flow = db.session.query(Flow).filter_by(id=flow_id, configuration_id=cfg.id).first()
    if flow is None:
        abort(404)
    return cfg, flow


def back_to(cfg, flow, anchor: str = ""):
    """To the flow's page; an HTMX request (the editor's Save) is told to go there as a whole page."""
    url = url_for("dashboard.flow_page", config_uuid=cfg.uuid, flow_id=flow.id) + anchor
    if is_htmx():
        return "", 204, {"HX-Redirect": url}
    return redirect(url)


def form_values(flow: Flow | None) -> dict:
    steps = STARTER_STEPS if flow is None else (flow.steps or [])
    trigger = {"type": "alert.created"} if flow is None else flow.trigger
    return {"name": flow.name if flow else "", "enabled": flow.enabled if flow else True,
            "triggerType": trigger.get("type", ""), "triggerResponse": trigger.get("response", ""),
            "triggerStatus": trigger.get("status", ""), "view": "forms",
            "steps": json.dumps(steps, indent=2), "model": editable(steps)}


def typed_values() -> dict:
    """The posted form; its steps are the step forms' (``view=forms``) or the Advanced tab's JSON."""
    form = request.form
    view = "forms" if form.get("view") == "forms" else "json"
    return {"name": form.get("name", ""), "enabled": form.get("enabled") == "on",
            "triggerType": form.get("triggerType", ""), "triggerResponse": form.get("triggerResponse", ""),
            "triggerStatus": form.get("triggerStatus", ""), "view": view, "steps": form.get("steps", ""),
            "model": FormTree(form).model if view == "forms" else []}


def definition(values: dict) -> dict:
    """The form as the REST API's body; a response or status only goes with the trigger it belongs to."""
    trigger = {"type": values["triggerType"]}
    if values["triggerType"] == "alert.response" and values["triggerResponse"]:
        trigger["response"] = values["triggerResponse"]
    if values["triggerType"] == "alert.status" and values["triggerStatus"]:
        trigger["status"] = values["triggerStatus"]
    steps = definition_steps(values["model"]) if values["view"] == "forms" else parsed_steps(values["steps"])
    return {"name": values["name"], "enabled": values["enabled"], "trigger": trigger, "steps": steps}


def errors_of(exc: Exception, view: str) -> dict:
    """Errors keyed by what they show beside: name, the trigger's fields, and the steps, either each
    step's field by its path (the forms) or all of them under the JSON (paths kept in the message)."""
    found = exc.errors if isinstance(exc, FieldErrors) else {getattr(exc, "field", "name"): exc}
    out: dict[str, str] = {}
    for field, error in found.items():
        message = str(error)
        short = message.removeprefix(f"{field}: ").removeprefix("name: ")
        short = short[:1].upper() + short[1:]
        key = TRIGGER_KEYS.get(field) or ("triggerType" if field.startswith("trigger") else None)
        if key is None and field.startswith("steps"):
            if view == "forms" and field != "steps":
                out[field] = short
            else:
                out["steps"] = f"{out['steps']} · {message}" if "steps" in out else message
            continue
        out.setdefault(key or "name", short)
    return out


def pairs(values) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


def editor(cfg, flow, values, errors=None, status=200, block=None):
    runs = db.session.query(FlowRun).filter_by(flow_id=flow.id).order_by(FlowRun.id.desc()) \
        .limit(RUNS_SHOWN).all() if flow else []
    errors = errors or {}
    edit_url = url_for("dashboard.edit_flow", config_uuid=cfg.uuid, flow_id=flow.id) if flow else \
        url_for("dashboard.edit_new_flow", config_uuid=cfg.uuid)
    configurations = [(uuid, f"{name} ({uuid[:8]}…)") for uuid, name in
                      db.session.query(Configuration.uuid, Configuration.name).order_by(Configuration.name)]
    return render("dashboard/flows/flow.html", block, status=status, cfg=cfg, flow=flow, values=values,
                  errors=errors, runs=runs, edit_url=edit_url,
                  views=step_views(values["model"], errors) if values["view"] == "forms" else [],
                  diagram=diagram(flow, runs[0] if runs else None, TRIGGER_LABELS) if flow else None,
                  kinds=TRIGGER_TYPES, labels=TRIGGER_LABELS, statuses=STATUSES, tab="flows",
                  ref=reference, methods=pairs(METHODS), actions=pairs(ACTIONS), priorities=pairs(PRIORITIES),
                  configurations=configurations, step_names=step_names(values))


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


def edited(cfg, flow):
    """An editor button (add, move, remove a step or branch; switch between forms and JSON): the editor
    again with the change made, nothing saved."""
    values, op, errors = typed_values(), request.form.get("op", ""), {}
    if values["view"] == "forms":
        tree = FormTree(request.form)
        tree.apply(op, request.form)
        values["model"] = tree.model
        if op == "view:json":
            try:
                values.update(steps=json.dumps(definition_steps(tree.model), indent=2), view="json")
            except FieldError as exc:
                errors = errors_of(exc, "forms")
    elif op == "view:forms":
        try:
            values.update(model=editable(parsed_steps(values["steps"])), view="forms")
        except FieldError as exc:
            errors = errors_of(exc, "json")
    return editor(cfg, flow, values, errors, status=200, block="editor")


@bp.post(f"{BASE}/new/edit")
@admin_required
def edit_new_flow(config_uuid):
    return edited(get_configuration(config_uuid), None)


@bp.post(f"{BASE}/<int:flow_id>/edit")
@admin_required
def edit_flow(config_uuid, flow_id):
    return edited(*flow_of(config_uuid, flow_id))


@bp.post(f"{BASE}/new")
@admin_required
def create_flow(config_uuid):
    cfg = get_configuration(config_uuid)
    values = typed_values()
    try:
        flow = flow_defs.save_flow(cfg, definition(values))
    except (FieldError, Conflict) as exc:
        db.session.rollback()
        return editor(cfg, None, values, errors_of(exc, values["view"]), status=error_status(), block="editor")
    db.session.commit()
    flash(f"Saved flow “{flow.name}”.", "success")
    return back_to(cfg, flow)


@bp.get(f"{BASE}/<int:flow_id>")
@admin_required
def flow_page(config_uuid, flow_id):
    cfg, flow = flow_of(config_uuid, flow_id)
    return editor(cfg, flow, form_values(flow))


@bp.post(f"{BASE}/<int:flow_id>")
@admin_required
def update_flow(config_uuid, flow_id):
    cfg, flow = flow_of(config_uuid, flow_id)
    values = typed_values()
    try:
        flow_defs.save_flow(cfg, definition(values), flow)
    except (FieldError, Conflict) as exc:
        db.session.rollback()
        return editor(cfg, flow_of(config_uuid, flow_id)[1], values, errors_of(exc, values["view"]),
                      status=error_status(), block="editor")
    db.session.commit()
    flash("Flow saved.", "success")
    return back_to(cfg, flow)


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
    cfg, flow = flow_of(config_uuid, flow_id)
    steps = list(flow.steps or [])
    index = request.form.get("index", type=int)
    other = index + (-1 if request.form.get("direction") == "up" else 1) if index is not None else -1
    if index is None or not (0 <= index < len(steps) and 0 <= other < len(steps)):
        abort(400)
    steps[index], steps[other] = steps[other], steps[index]
    saved(cfg, flow, {"steps": steps}, "Step moved.")
    return back_to(cfg, flow, "#steps")


@bp.post(f"{BASE}/<int:flow_id>/toggle")
@admin_required
def toggle_flow(config_uuid, flow_id):
    cfg, flow = flow_of(config_uuid, flow_id)
    saved(cfg, flow, {"enabled": not flow.enabled}, f"“{flow.name}” is {'off' if flow.enabled else 'on'}.")
    if request.form.get("back") == "flow":
        return back_to(cfg, flow)
    return redirect(url_for("dashboard.flows_list", config_uuid=cfg.uuid))


@bp.post(f"{BASE}/<int:flow_id>/delete")
@admin_required
def delete_flow(config_uuid, flow_id):
    cfg, flow = flow_of(config_uuid, flow_id)
    db.session.query(FlowRun).filter_by(flow_id=flow.id).delete(synchronize_session=False)
    db.session.delete(flow)
    db.session.commit()
    flash(f"Deleted flow “{flow.name}”.", "success")
    return redirect(url_for("dashboard.flows_list", config_uuid=cfg.uuid))


@bp.post(f"{BASE}/<int:flow_id>/test")
@admin_required
def test_flow(config_uuid, flow_id):
    """Queue a test run: the sample alert (a dry run), or the alert whose number was given."""
    cfg, flow = flow_of(config_uuid, flow_id)
    number = request.form.get("alert", "").strip().lstrip("#")
    alert = None
    if number:
        alert = db.session.query(Alert).filter_by(id=row_id(number), configuration_id=cfg.id).first() \
            if row_id(number) is not None else None
        if alert is None:
            flash(f"No alert #{number} in {cfg.name}.", "error")
            return back_to(cfg, flow, "#runs")
    run = start_test_run(flow, alert)
    db.session.commit()
    flash(f"Run #{run.id} queued " + (f"on alert #{alert.id}." if alert else "with the sample alert."), "success")
    return back_to(cfg, flow, "#runs")


@bp.get(f"{BASE}/<int:flow_id>/runs")
@admin_required
def flow_runs(config_uuid, flow_id):
    """The runs section alone, for HTMX to poll while a run is pending or running."""
    cfg, flow = flow_of(config_uuid, flow_id)
    runs = db.session.query(FlowRun).filter_by(flow_id=flow.id).order_by(FlowRun.id.desc()).limit(RUNS_SHOWN).all()
    if not request.headers.get("HX-Request"):
        return back_to(cfg, flow, "#runs")
    return render("dashboard/flows/flow.html", "runs", cfg=cfg, flow=flow, runs=runs)
