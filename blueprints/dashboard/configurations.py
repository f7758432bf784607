"""The configuration screen: settings (name, sender, recipients, priority, response options), the
integration URL with its sample payload and curl command, and "Send test alert"."""
from __future__ import annotations

import json
import shlex

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from alerting import configurations as configs
from alerting import heartbeats
from alerting.errors import FieldError
from blueprints.dashboard import bp
from blueprints.dashboard.forms import (
    admin_required,
    error_status,
    field_errors,
    is_htmx,
    render,
    render_fragment,
    save_form,
    whole_number,
)
from extensions import db
from models import PRIORITIES, RESPONSE_ACTIONS, Configuration, Group, User

DEFAULT_OPTIONS = [{"description": "", **o} for o in configs.DEFAULT_RESPONSE_OPTIONS]
TEMPLATE = "dashboard/configuration.html"
# Errors on these fields show beside them; any other field's error shows at the top of the form.
FORM_FIELDS = ("name", "description", "senderName", "priority", "recipients", "responseOptions", "enabled",
               "rateLimitPerMinute", "dedupWindowMinutes", "customMapping", "intervalMinutes", "graceMinutes")


def get_configuration(config_uuid: str) -> Configuration:
    cfg = db.session.query(Configuration).filter_by(uuid=config_uuid).first()
    if cfg is None:
        abort(404)
    return cfg


def recipient_label(recipient: dict) -> str:
    """What a chip shows: the person's name, the group name or 'user · device'."""
    rid, rtype = recipient["id"], recipient["recipientType"]
    if rtype == "PERSON":
        user = db.session.query(User).filter_by(username=rid).first()
        return f"{user.name} ({rid})" if user and user.name else rid
    return rid.replace("|", " · ") if rtype == "DEVICE" else rid


def chips(recipients: list[dict]) -> list[dict]:
    return [{"type": r["recipientType"], "id": r["id"], "label": recipient_label(r)} for r in recipients]


def values_from(cfg: Configuration) -> dict:
    """What the settings form shows for a saved configuration."""
    return {"template": cfg.template, "name": cfg.name, "description": cfg.description,
            "senderName": cfg.sender_name, "priority": cfg.priority, "enabled": cfg.enabled,
            "recipients": chips(cfg.recipients or []),
            "responseOptions": [{"description": "", **o} for o in cfg.response_options or []],
            "rateLimitPerMinute": cfg.rate_limit_per_minute, "dedupWindowMinutes": cfg.dedup_window_minutes,
            "customMapping": cfg.custom_mapping or "", **heartbeat_values(cfg)}


def heartbeat_values(cfg: Configuration | None) -> dict:
    """A heartbeat's interval and grace for its settings form (the defaults before it is saved)."""
    beat = heartbeats.of(cfg) if cfg else None
    return {"intervalMinutes": beat.interval_minutes if beat else heartbeats.DEFAULT_INTERVAL,
            "graceMinutes": beat.grace_minutes if beat else heartbeats.DEFAULT_GRACE}


def parse_recipients(form) -> list[dict]:
    """Hidden inputs of the picker carry 'PERSON:bsmith', 'GROUP:Database Team' or 'DEVICE:bsmith|Email'."""
    out = []
    for raw in form.getlist("recipient"):
        rtype, _sep, rid = raw.partition(":")
        if rid and {"id": rid, "recipientType": rtype} not in out:
            out.append({"id": rid, "recipientType": rtype})
    return out


def parse_options(form) -> list[dict]:
    """Rows of the response options editor; a row left blank is dropped."""
    rows = zip(form.getlist("option_text"), form.getlist("option_action"), form.getlist("option_description"),
               strict=False)
    return [{"text": text, "action": action, "description": description}
            for text, action, description in rows if text.strip() or description.strip()]


def form_data(form, creating: bool) -> dict:
    """The camelCase body alerting.configurations.apply validates, as the REST API sends it."""
    data = {"name": form.get("name", ""), "description": form.get("description", ""),
            "senderName": form.get("senderName", ""), "priority": form.get("priority") or "MEDIUM",
            "recipients": parse_recipients(form), "responseOptions": parse_options(form),
            "enabled": form.get("enabled") == "on",
            "rateLimitPerMinute": whole_number(form.get("rateLimitPerMinute")),
            "dedupWindowMinutes": whole_number(form.get("dedupWindowMinutes"))}
    data = {key: value for key, value in data.items() if value is not None}
    if creating:
        data["template"] = form.get("template", "webhook")
    if "customMapping" in form:
        data["customMapping"] = form["customMapping"] or None
    for name in ("intervalMinutes", "graceMinutes"):  # a heartbeat's (alerting.heartbeats)
        if name in form:
            data[name] = whole_number(form.get(name))
    return data


def typed_values(form, creating: bool, cfg: Configuration | None) -> dict:
    """The user's input, to show again beside a field error."""
    values = form_data(form, creating)
    values["template"] = form.get("template", "webhook") if creating else cfg.template
    values["recipients"] = chips(values["recipients"])
    values["rateLimitPerMinute"] = form.get("rateLimitPerMinute", "")
    values["dedupWindowMinutes"] = form.get("dedupWindowMinutes", "")
    values.setdefault("customMapping", "")
    return values


def connect_details(cfg: Configuration) -> dict:
    """Integration URL, sample payload and a ready curl command for the saved configuration."""
    sample = configs.sample_payload(cfg)
    url = configs.integration_url(cfg)
    curl = (f"curl -X POST {shlex.quote(url)} \\\n  -H 'Content-Type: application/json' \\\n"
            f"  -d {shlex.quote(json.dumps(sample))}")
    return {"url": url, "sample": json.dumps(sample, indent=2), "curl": curl}


def screen(cfg, values, errors=None, status=200):
    errors = errors or {}
    return render(TEMPLATE, None, status=status, cfg=cfg, values=values, errors=errors,
                  general_errors=[m for k, m in errors.items() if not k.startswith(FORM_FIELDS)],
                  recipient_errors=[m for k, m in errors.items() if k.startswith("recipients")],
                  info=configs.TEMPLATE_INFO, priorities=PRIORITIES, actions=RESPONSE_ACTIONS,
                  connect=connect_details(cfg) if cfg else None, tab="settings")


@bp.get("/integrations/new")
@admin_required
def new_configuration():
    template = request.args.get("template", "")
    if template not in configs.TEMPLATE_INFO:
        flash("Pick a template, then press Next.", "error")
        return redirect(url_for("dashboard.templates"))
    values = {"template": template, "name": "", "description": "", "senderName": "", "priority": "MEDIUM",
              "enabled": True, "recipients": [], "responseOptions": [dict(o) for o in DEFAULT_OPTIONS],
              "rateLimitPerMinute": 600, "dedupWindowMinutes": 1440, "customMapping": "", **heartbeat_values(None)}
    return screen(None, values)


@bp.post("/integrations/new")
@admin_required
def create_configuration():
    try:
        cfg = save_form(configs.create, form_data(request.form, creating=True), {"name": "form check"})
    except FieldError as exc:
        return screen(None, typed_values(request.form, True, None), field_errors(exc), error_status())
    flash(f"Saved “{cfg.name}”. Its integration URL is ready: send a test alert or POST to it.", "success")
    return redirect(url_for("dashboard.configuration", config_uuid=cfg.uuid))


@bp.get("/integrations/<config_uuid>")
@admin_required
def configuration(config_uuid):
    cfg = get_configuration(config_uuid)
    return screen(cfg, values_from(cfg))


@bp.post("/integrations/<config_uuid>")
@admin_required
def save_configuration(config_uuid):
    cfg = get_configuration(config_uuid)
    try:
        save_form(lambda data: configs.apply(cfg, data, creating=False), form_data(request.form, creating=False))
    except FieldError as exc:
        return screen(cfg, typed_values(request.form, False, cfg), field_errors(exc), error_status())
    flash("Settings saved.", "success")
    return redirect(url_for("dashboard.configuration", config_uuid=cfg.uuid))


@bp.post("/integrations/<config_uuid>/key")
@admin_required
def regenerate_key(config_uuid):
    cfg = get_configuration(config_uuid)
    configs.regenerate_key(cfg)
    db.session.commit()
    flash("New API key made. Senders using the old URL now get 401 until you update them.", "success")
    return redirect(url_for("dashboard.configuration", config_uuid=cfg.uuid))


def test_payload(cfg: Configuration) -> dict:
    """The sample payload (it has no dedupKey, so every press makes a new alert), marked as a test."""
    payload = configs.sample_payload(cfg)
    payload["subject"] = "Test: " + payload.get("subject", cfg.name)
    return payload


def create_test_alert(cfg: Configuration, actor: str):
    """The integration URL's own parser and apply_change, run in this request (the caller commits).

    Not an HTTP call to KLAXON_BASE_URL: blueprints never send HTTP, and the base URL may only be
    reachable from outside (behind a proxy). Only the key check and the rate limit are skipped.
    """
    from alerting.alerts.create import apply_change
    from alerting.sources import SourceError, parse

    if not cfg.enabled:
        raise ValueError("This configuration is disabled; tick Enabled in Settings to accept alerts.")
    payload = test_payload(cfg)
    try:
        changes = parse(cfg.template, payload, cfg.custom_mapping)
    except SourceError:
        # Sources with their own payload shape cannot read the sample; the generic trigger form can.
        changes = parse("webhook", payload, None)
    outcomes = [apply_change(cfg, change, actor=actor) for change in changes]
    return next((o.alert for o in outcomes if o.alert is not None), None)


@bp.post("/integrations/<config_uuid>/test")
@admin_required
def send_test_alert(config_uuid):
    cfg = get_configuration(config_uuid)
    try:
        alert = create_test_alert(cfg, actor=current_user.username)
        db.session.commit()
        problem = None
    except ValueError as exc:
        db.session.rollback()
        alert, problem = None, str(exc)
    if not is_htmx():
        if problem:
            flash(problem, "error")
        else:
            flash(f"Test alert #{alert.id} created.", "success")
        return redirect(url_for("dashboard.alert_detail", event_id=alert.id) if alert
                        else url_for("dashboard.configuration", config_uuid=cfg.uuid))
    return render(TEMPLATE, "test_alert", cfg=cfg, test_alert=alert, test_problem=problem)


@bp.get("/integrations/recipients")
@admin_required
def recipient_search():
    """Type-ahead for the recipients picker: users and groups matching ``q``, less those already chosen."""
    query = request.args.get("q", "").strip().lower()
    chosen = set(request.args.getlist("recipient"))
    results = []
    if query:
        like = f"%{query}%"
        users = db.session.query(User).filter(db.or_(User.username.ilike(like), User.name.ilike(like))) \
            .order_by(User.username).limit(8).all()
        groups = db.session.query(Group).filter(Group.name.ilike(like)).order_by(Group.name).limit(8).all()
        results = [{"type": "PERSON", "id": u.username, "label": f"{u.name} ({u.username})" if u.name else u.username}
                   for u in users] + [{"type": "GROUP", "id": g.name, "label": g.name} for g in groups]
        results = [r for r in results if f"{r['type']}:{r['id']}" not in chosen]
    return render_fragment(TEMPLATE, "recipient_results", results=results, q=query)


@bp.get("/integrations/recipients/chip")
@admin_required
def recipient_chip():
    rtype, rid = request.args.get("type", ""), request.args.get("id", "")
    if rtype not in ("PERSON", "GROUP") or not rid:
        abort(400)
    chip = chips([{"id": rid, "recipientType": rtype}])[0]
    return render(TEMPLATE, "chip_added", chip=chip)


@bp.post("/integrations/mapping-preview")
@admin_required
def mapping_preview():
    """What the custom mapping makes of a sample payload, before saving it."""
    from alerting.sources.custom import preview

    try:
        sample = json.loads(request.form.get("mappingSample") or "{}")
    except ValueError as exc:
        return render_fragment(TEMPLATE, "mapping_preview", preview={"ok": False, "error": f"Sample payload: {exc}"})
    result = preview(request.form.get("customMapping") or "{}", sample)
    result["pretty"] = [json.dumps(alert, indent=2, ensure_ascii=False) for alert in result.get("alerts", [])]
    return render_fragment(TEMPLATE, "mapping_preview", preview=result)


@bp.get("/integrations/option-row")
@admin_required
def response_option_row():
    return render_fragment(TEMPLATE, "option_row_added", actions=RESPONSE_ACTIONS)
