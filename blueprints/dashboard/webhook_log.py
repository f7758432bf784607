"""Deliveries: the log of outbound update webhooks, redeliver one, recover failed ones since a time."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import abort, flash, redirect, request, url_for

from alerting.errors import Conflict
from alerting.ids import row_id
from alerting.update_webhooks import redeliver as redelivery
from blueprints.dashboard import bp
from blueprints.dashboard.forms import Page, admin_required, filtered, is_htmx, list_filters, page_number, render
from extensions import db
from models import MESSAGE_STATUSES, UPDATE_TYPES, Configuration, UpdateEndpoint, WebhookMessage, utcnow

LIST = "dashboard/webhook_log.html"
DETAIL = "dashboard/webhook_message.html"


def filtered_messages(filters: dict):
    query = filtered(db.session.query(WebhookMessage), filters,
                     {"status": WebhookMessage.status, "type": WebhookMessage.update_type},
                     WebhookMessage.configuration_id)
    return query.order_by(WebhookMessage.id.desc())


def endpoints_in_use() -> list[UpdateEndpoint]:
    """Update endpoints with a URL, for the recover form, by configuration name."""
    return (db.session.query(UpdateEndpoint).join(Configuration)
            .filter(UpdateEndpoint.url.isnot(None)).order_by(Configuration.name, UpdateEndpoint.update_type).all())


def list_page(errors=None, status=200, since_value=None):
    filters = list_filters({"status": MESSAGE_STATUSES, "type": UPDATE_TYPES})
    endpoints = endpoints_in_use()
    default_since = (utcnow() - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M")
    return render(LIST, "results", status=status, filters=filters, args={k: v for k, v in filters.items() if v},
                  page=Page(filtered_messages(filters), page_number()), statuses=MESSAGE_STATUSES,
                  update_types=UPDATE_TYPES, update_endpoints=endpoints,
                  disabled=[e for e in endpoints if e.disabled_at],
                  configurations=db.session.query(Configuration).order_by(Configuration.name).all(),
                  errors=errors or {}, since_value=since_value or default_since)


@bp.get("/deliveries")
@admin_required
def webhook_log():
    return list_page()


@bp.get("/deliveries/<int:message_id>")
@admin_required
def webhook_message(message_id):
    message = db.session.get(WebhookMessage, message_id) or abort(404)
    return render(DETAIL, None, message=message, errors={})


@bp.post("/deliveries/<int:message_id>/redeliver")
@admin_required
def redeliver(message_id):
    message = db.session.get(WebhookMessage, message_id) or abort(404)
    try:
        redelivery.redeliver(message)
        db.session.commit()
        note, ok = "Queued to send again, with the same webhook-id.", True
    except Conflict as exc:
        db.session.rollback()
        note, ok = str(exc), False
    flash(note, "success" if ok else "error")  # in the page's one message area (out of band for HTMX)
    if is_htmx():
        return render(DETAIL, "status", message=message)
    return redirect(url_for("dashboard.webhook_message", message_id=message.id))


def parse_since(raw: str) -> datetime | None:
    """A datetime-local value (read as UTC), or None when it is not one."""
    try:
        return datetime.fromisoformat(raw.strip())
    except ValueError:
        return None


@bp.post("/deliveries/recover")
@admin_required
def recover():
    endpoint_id = request.form.get("endpoint", "")
    endpoint = db.session.get(UpdateEndpoint, row_id(endpoint_id)) if row_id(endpoint_id) is not None else None
    since = parse_since(request.form.get("since", ""))
    errors = {}
    if endpoint is None:
        errors["endpoint"] = "Choose the update URL to recover."
    if since is None:
        errors["since"] = "Give a date and time, e.g. 2025-01-31 08:00."
    if not errors:
        try:
            count = redelivery.recover(endpoint, since)
            db.session.commit()
        except Conflict as exc:
            db.session.rollback()
            errors["endpoint"] = str(exc)
    if errors:
        return list_page(errors, 422, request.form.get("since"))
    flash(f"{count} failed message{'s' if count != 1 else ''} since {since:%Y-%m-%d %H:%M} UTC queued again."
          if count else f"No failed messages to that URL since {since:%Y-%m-%d %H:%M} UTC.", "success")
    return redirect(url_for("dashboard.webhook_log"))
