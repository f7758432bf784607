"""The Updates tab of a saved configuration: the update webhooks (status, delivery, response, comment,
escalation), saved in place, with their last result, the outbound properties and the signing secret."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from alerting import configurations as configs
from alerting.errors import FieldError
from blueprints.dashboard import bp
from blueprints.dashboard.configurations import get_configuration
from blueprints.dashboard.forms import admin_required, error_status, field_errors, is_htmx, render, save_form
from extensions import db
from models import UPDATE_TYPES, WebhookMessage, iso, utcnow

TEMPLATE = "dashboard/configuration_updates.html"
UPDATE_LABELS = {
    "status": ("Alert status updates", "Every status change, creation included: active, suspended, terminated."),
    "delivery": ("Delivery updates", "Each notification delivered to, or failed for, a recipient's device."),
    "response": ("Response updates", "Each response a recipient chooses, with their comment."),
    "comment": ("Comment updates", "Each comment added to an alert: dashboard, API, flow or a response's comment."),
    "escalation": ("Escalation updates", "A group escalating to its next members, and recipients that reached "
                   "nobody (sent as recipient_failure)."),
}


def last_messages(cfg) -> dict:
    """The newest webhook message per update type of ``cfg``."""
    newest = {}
    for update_type in UPDATE_TYPES:
        newest[update_type] = (db.session.query(WebhookMessage)
                               .filter_by(configuration_id=cfg.id, update_type=update_type)
                               .order_by(WebhookMessage.id.desc()).first())
    return newest


def saved_values(cfg) -> dict:
    values = {"include": cfg.include_subject_and_message,
              "outbound": "\n".join(cfg.outbound_properties) if cfg.outbound_properties is not None else ""}
    for update_type in UPDATE_TYPES:
        endpoint = cfg.endpoint(update_type)
        values[update_type] = {"enabled": bool(endpoint and endpoint.enabled),
                               "url": (endpoint.url if endpoint else "") or ""}
    return values


def typed_values(form) -> dict:
    values = {"include": form.get("includeSubjectAndMessage") == "on",
              "outbound": form.get("outboundProperties", "").strip()}
    for update_type in UPDATE_TYPES:
        values[update_type] = {"enabled": form.get(f"{update_type}_enabled") == "on",
                               "url": form.get(f"{update_type}_url", "").strip()}
    return values


def outbound_names(typed: str) -> list[str] | None:
    """One property name per line (or comma-separated); an empty box sends every property."""
    names = [name.strip() for line in typed.splitlines() for name in line.split(",") if name.strip()]
    return names or None


def secrets_view(cfg) -> list[dict]:
    """Active signing secrets, newest first, with when each stops being used."""
    now = iso(utcnow())
    return [s for s in cfg.signing_secrets or [] if not s.get("expiresAt") or s["expiresAt"] > now]


def updates_page(cfg, values, errors=None, block="updates", status=200):
    return render(TEMPLATE, block, status=status, cfg=cfg, values=values, errors=errors or {},
                  labels=UPDATE_LABELS, update_types=UPDATE_TYPES, last=last_messages(cfg),
                  secrets=secrets_view(cfg), tab="updates")


@bp.route("/integrations/<config_uuid>/updates", methods=("GET", "POST"))
@admin_required
def configuration_updates(config_uuid):
    """The Updates tab; its POST saves the form (every field's error at once, nothing saved then)."""
    cfg = get_configuration(config_uuid)
    if request.method == "GET":
        return updates_page(cfg, saved_values(cfg))
    values = typed_values(request.form)
    updates = {t: {"enabled": values[t]["enabled"], "url": values[t]["url"] or None} for t in UPDATE_TYPES}
    data = {"updates": updates, "includeSubjectAndMessage": values["include"],
            "outboundProperties": outbound_names(values["outbound"])}
    try:
        save_form(lambda d: configs.apply(cfg, d, creating=False), data)
    except FieldError as exc:
        errors = {("outboundProperties" if field.startswith("outboundProperties") else field): message
                  for field, message in field_errors(exc).items()}  # one box holds every name
        return updates_page(get_configuration(config_uuid), values, errors, status=error_status())
    flash("Saved the update webhooks.", "success")
    if not is_htmx():
        return redirect(url_for("dashboard.configuration_updates", config_uuid=cfg.uuid))
    return updates_page(cfg, saved_values(cfg))


@bp.post("/integrations/<config_uuid>/updates/<update_type>/test")
@admin_required
def send_test_update(config_uuid, update_type):
    """A signed sample to the URL in the box (or the saved one); the result shows beside the button."""
    from alerting.update_webhooks.sample import outcome_text
    from alerting.update_webhooks.sample import send_test_update as send

    cfg = get_configuration(config_uuid)
    if update_type not in UPDATE_TYPES:
        abort(404)
    endpoint = cfg.endpoint(update_type)
    url = (request.form.get(f"{update_type}_url") or (endpoint.url if endpoint else "") or "").strip()
    if not url:
        ok, result = False, "Type a URL first."
    else:
        try:
            outcome = send(cfg, update_type, url)
            ok, result = outcome.ok, outcome_text(outcome)
        except FieldError as exc:
            ok, result = False, next(iter(field_errors(exc).values()))
    if not is_htmx():
        flash(f"Test {update_type} update: {result}", "success" if ok else "error")
        return redirect(url_for("dashboard.configuration_updates", config_uuid=cfg.uuid))
    return render(TEMPLATE, "test_result", ok=ok, result=result)


@bp.post("/integrations/<config_uuid>/secret")
@admin_required
def rotate_secret(config_uuid):
    cfg = get_configuration(config_uuid)
    configs.rotate_secret(cfg)
    db.session.commit()
    if not is_htmx():
        flash("New signing secret made; the old one signs alongside it for a while.", "success")
        return redirect(url_for("dashboard.configuration_updates", config_uuid=cfg.uuid))
    return updates_page(cfg, saved_values(cfg), block="secret")

