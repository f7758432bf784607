"""The Updates tab of a saved configuration: three update webhooks, saved in place, with their last
result and the signing secret."""
from __future__ import annotations

from flask import flash, redirect, request, url_for

from alerting import configurations as configs
from alerting.errors import FieldError
from blueprints.dashboard import bp
from blueprints.dashboard.configurations import get_configuration
from blueprints.dashboard.forms import admin_required, error_status, field_errors, is_htmx, render
from extensions import db
from models import UPDATE_TYPES, WebhookMessage, iso, utcnow

TEMPLATE = "dashboard/configuration_updates.html"
UPDATE_LABELS = {
    "status": ("Alert status updates", "Every status change, creation included: active, suspended, terminated."),
    "delivery": ("Delivery updates", "Each notification delivered to, or failed for, a recipient's device."),
    "response": ("Response updates", "Each response a recipient chooses, with their comment."),
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
    values = {"include": cfg.include_subject_and_message}
    for update_type in UPDATE_TYPES:
        endpoint = cfg.endpoint(update_type)
        values[update_type] = {"enabled": bool(endpoint and endpoint.enabled), "url": (endpoint.url if endpoint else "") or ""}
    return values


def typed_values(form) -> dict:
    values = {"include": form.get("includeSubjectAndMessage") == "on"}
    for update_type in UPDATE_TYPES:
        values[update_type] = {"enabled": form.get(f"{update_type}_enabled") == "on",
                               "url": form.get(f"{update_type}_url", "").strip()}
    return values


def secrets_view(cfg) -> list[dict]:
    """Active signing secrets, newest first, with when each stops being used."""
    now = iso(utcnow())
    return [s for s in cfg.signing_secrets or [] if not s.get("expiresAt") or s["expiresAt"] > now]


def updates_page(cfg, values, errors=None, saved=False, block="updates", status=200):
    return render(TEMPLATE, block, status=status, cfg=cfg, values=values, errors=errors or {}, saved=saved,
                  labels=UPDATE_LABELS, update_types=UPDATE_TYPES, last=last_messages(cfg),
                  secrets=secrets_view(cfg), tab="updates")


@bp.get("/integrations/<config_uuid>/updates")
@admin_required
def configuration_updates(config_uuid):
    cfg = get_configuration(config_uuid)
    return updates_page(cfg, saved_values(cfg))


@bp.post("/integrations/<config_uuid>/updates")
@admin_required
def save_updates(config_uuid):
    cfg = get_configuration(config_uuid)
    values = typed_values(request.form)
    updates = {t: {"enabled": values[t]["enabled"], "url": values[t]["url"] or None} for t in UPDATE_TYPES}
    try:
        configs.apply(cfg, {"updates": updates, "includeSubjectAndMessage": values["include"]}, creating=False)
        db.session.commit()
    except FieldError as exc:
        db.session.rollback()
        return updates_page(get_configuration(config_uuid), values, field_errors(exc), status=error_status())
    if not is_htmx():
        flash("Update webhooks saved.", "success")
        return redirect(url_for("dashboard.configuration_updates", config_uuid=cfg.uuid))
    return updates_page(cfg, saved_values(cfg), saved=True)


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

