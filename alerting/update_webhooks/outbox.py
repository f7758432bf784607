"""The outbox of update webhooks (SPEC §4).

An alert change, a notification result or a response writes its WebhookMessage row in the same
database transaction as the change itself; the delivery job is queued only after that commit.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from flask import current_app
from sqlalchemy import or_

from alerting import jobs
from alerting.alerts import callbacks, rows
from alerting.events import (
    CommentAdded,
    GroupEscalated,
    NotificationSettled,
    RecipientFailed,
    ResponseRecorded,
    StatusChanged,
)
from alerting.notifications.messages import build_message
from alerting.notifications.transports import TransportError
from alerting.notifications.transports.email import EmailTransport
from alerting.update_webhooks import payloads
from extensions import db
from models import Alert, Device, UpdateEndpoint, User, WebhookMessage, utcnow
from runtime.queue import redis_conn

log = logging.getLogger("klaxon.outbox")
# Messages queued straight away when an endpoint comes back; the sweeper queues the rest.
RELEASE_BATCH = 500
SWEEP_BATCH = 500
REQUEUED_KEY = "klaxon:webhooks:requeued:{}"


def _common(alert: Alert) -> dict:
    """The fields every update payload of ``alert`` shares."""
    cfg = alert.configuration
    return {"when": utcnow(), "properties": payloads.outbound(alert.properties, cfg.outbound_properties),
            "subject": alert.subject, "alert_message": alert.message,
            "include": cfg.include_subject_and_message}


def on_status_changed(event: StatusChanged) -> WebhookMessage | None:
    """Listener: record the ``status`` update (creation counts: the alert became ACTIVE)."""
    alert = event.alert
    return record_update(alert, "status", lambda: payloads.status_payload(
        alert.id, event.status, event.username, **_common(alert)))


def on_notification_settled(event: NotificationSettled) -> WebhookMessage | None:
    """Listener: record the ``delivery`` update of a notification delivered or failed."""
    alert, note = event.alert, event.notification
    return record_update(alert, "delivery", lambda: payloads.delivery_payload(
        alert.id, note.recipient, note.device_name, note.device_id, bool(event.delivered), event.message,
        **_common(alert)))


def on_response_recorded(event: ResponseRecorded) -> WebhookMessage | None:
    """Listener: record the ``response`` update."""
    alert = event.alert
    return record_update(alert, "response", lambda: payloads.response_payload(
        alert.id, event.recipient, event.device, event.response.response, event.annotation, **_common(alert)))


def on_comment_added(event: CommentAdded) -> WebhookMessage | None:
    """Listener: record the ``comment`` update (dashboard, API, flow or response comment)."""
    alert = event.alert
    return record_update(alert, "comment", lambda: payloads.comment_payload(
        alert.id, author_of(event.username), event.comment, **_common(alert)))


def on_group_escalated(event: GroupEscalated) -> WebhookMessage | None:
    """Listener: record the ``escalation`` update of a group moving on to its next members."""
    alert = event.alert
    return record_update(alert, "escalation", lambda: payloads.escalation_payload(
        alert.id, event.group, event.shift, list(event.recipients), event.level, **_common(alert)))


def on_recipient_failed(event: RecipientFailed) -> WebhookMessage | None:
    """Listener: record a ``recipient_failure`` message, sent to the escalation endpoint."""
    alert = event.alert
    return record_update(alert, "escalation", lambda: payloads.recipient_failure_payload(
        alert.id, event.recipient, event.reason, **_common(alert)), message_type="recipient_failure")


def author_of(username: str | None) -> dict:
    """``{"username", "firstName", "lastName"}`` of a comment's author: a user's name split at its first
    space; an author who is not a user (``token:ci``, ``flow:…``) has null names."""
    user = db.session.query(User).filter_by(username=username).first() if username else None
    if user is None:
        return {"username": username or "klaxon", "firstName": None, "lastName": None}
    first, _, last = (user.name or "").strip().partition(" ")
    return {"username": user.username, "firstName": first or None, "lastName": last.strip() or None}


def record_update(alert: Alert, update_type: str, payload: Callable[[], dict],
                  message_type: str | None = None) -> WebhookMessage | None:
    """Write the update message for the configuration's endpoint of ``update_type``, if it has one,
    and one for each of the alert's own callbacks of that type (SPEC §2); return the first written.

    The delivery job is queued after commit. An endpoint Klaxon disabled gets its message as
    ``skipped``, kept for when it is re-enabled. ``payload`` is only built when a message is written.
    ``message_type`` (default ``update_type``) is the message's own type, sent as X-Klaxon-Update-Type.
    """
    if alert.configuration is None:
        return None
    endpoints = [alert.configuration.endpoint(update_type), *alert_callbacks(alert, update_type)]
    endpoints = [e for e in endpoints if e is not None and e.enabled and e.url]
    body = payloads.encode(payload()) if endpoints else ""
    messages = [_write(alert, endpoint, message_type or update_type, body) for endpoint in endpoints]
    return messages[0] if messages else None


def _write(alert: Alert, endpoint: UpdateEndpoint, update_type: str, body: str) -> WebhookMessage:
    if endpoint.id is None:  # a callback subscribed in this transaction: its row first
        db.session.flush()
    message = WebhookMessage(configuration_id=alert.configuration_id, endpoint_id=endpoint.id, endpoint=endpoint,
                             alert_id=alert.id, update_type=update_type, url=endpoint.url, body=body,
                             status="skipped" if endpoint.disabled_at else "pending", next_attempt_at=utcnow())
    rows.insert(message)  # the job needs the row id
    if message.status == "pending":
        jobs.DELIVER_UPDATE.after_commit(message.id)
    return message


def alert_callbacks(alert: Alert, update_type: str) -> list[UpdateEndpoint]:
    """The endpoints a trigger's ``callbacks`` subscribed for this alert alone (alerting/alerts/callbacks.py)."""
    if alert.id is None:
        return []
    known = callbacks.known_callbacks(alert, update_type)  # a new alert's: no query
    if known is not None:
        return known
    return (db.session.query(UpdateEndpoint)
            .filter(UpdateEndpoint.alert_id == alert.id, UpdateEndpoint.update_type == update_type)
            .order_by(UpdateEndpoint.id).all())


def release_skipped(endpoint: UpdateEndpoint) -> int:
    """The endpoint is back: its skipped messages become pending, with a fresh retry schedule."""
    if endpoint.id is None:
        return 0
    ids = [row.id for row in db.session.query(WebhookMessage.id)
           .filter_by(endpoint_id=endpoint.id, status="skipped").order_by(WebhookMessage.id)]
    if not ids:
        return 0
    now = utcnow()
    (db.session.query(WebhookMessage)
     .filter(WebhookMessage.endpoint_id == endpoint.id, WebhookMessage.status == "skipped")
     .update({"status": "pending", "attempts": 0, "next_attempt_at": now, "locked_until": None},
             synchronize_session=False))
    for message_id in ids[:RELEASE_BATCH]:
        jobs.DELIVER_UPDATE.after_commit(message_id)
    return len(ids)


def disable_endpoint(endpoint: UpdateEndpoint, reason: str, now=None) -> None:
    """Klaxon stops posting to an endpoint (410 or sustained failure); its pending messages wait as skipped."""
    now = now or utcnow()
    endpoint.disabled_at, endpoint.disabled_reason = now, reason
    endpoint.last_result = reason
    db.session.flush()
    (db.session.query(WebhookMessage)
     .filter(WebhookMessage.endpoint_id == endpoint.id, WebhookMessage.status == "pending")
     .update({"status": "skipped"}, synchronize_session=False))


def email_admins(endpoint: UpdateEndpoint) -> int:
    """Tell every admin with an email device that Klaxon disabled ``endpoint``; return emails sent.

    Needs ``KLAXON_SMTP_URL``; a failed email is logged and does not undo the disabling.
    """
    settings = current_app.config["KLAXON"]
    if not settings.smtp_url:
        return 0
    targets = [d.target for d in db.session.query(Device).join(User)
               .filter(User.role == "admin", User.active.is_(True), Device.kind == "email",
                       Device.enabled.is_(True)).order_by(Device.id)]
    notice = _disabled_notice(endpoint, settings.base_url)
    db.session.commit()  # no transaction stays open while the SMTP server answers
    transport, sent = EmailTransport.from_settings(settings), 0
    for target in targets:
        try:
            transport.send(target, notice)
            sent += 1
        except TransportError as exc:
            log.warning("could not email %s about disabled endpoint %s: %s", target, endpoint.id, exc.message)
    return sent


def _disabled_notice(endpoint: UpdateEndpoint, base_url: str):
    cfg = endpoint.configuration
    last = (db.session.query(WebhookMessage.alert_id)
            .filter(WebhookMessage.endpoint_id == endpoint.id, WebhookMessage.alert_id.isnot(None))
            .order_by(WebhookMessage.id.desc()).first())
    text = (f"Klaxon stopped posting {endpoint.update_type} updates of {cfg.name!r} to {endpoint.url}: "
            f"{endpoint.disabled_reason}. Updates are kept and go out once the update URL is saved as "
            "enabled again on the configuration's Updates section.")
    return build_message(
        sender_name="Klaxon", subject=f"Update webhook disabled: {cfg.name} ({endpoint.update_type})",
        message=text, priority="HIGH", event_identifier=last.alert_id if last else 0, alert_id=cfg.uuid,
        properties={"Configuration": cfg.name, "Update type": endpoint.update_type, "URL": endpoint.url,
                    "Reason": endpoint.disabled_reason, "Dashboard": base_url},
        response_links=[])


def sweep(now) -> int:
    """Queue again (a bounded batch of) pending messages that are due and not leased by a live worker.

    A Redis mark keeps one message from being queued again on every sweep while a backlog drains;
    a flushed Redis loses the marks along with the jobs, so everything due is queued at once.
    """
    ids = [row.id for row in db.session.query(WebhookMessage.id)
           .filter(WebhookMessage.status == "pending",
                   or_(WebhookMessage.next_attempt_at.is_(None), WebhookMessage.next_attempt_at <= now),
                   or_(WebhookMessage.locked_until.is_(None), WebhookMessage.locked_until < now))
           .order_by(WebhookMessage.next_attempt_at).limit(SWEEP_BATCH)]
    db.session.commit()
    if not ids:
        return 0
    pipe = redis_conn().pipeline(transaction=False)
    lease = max(1, int(current_app.config["KLAXON"].webhook_lease_seconds))  # a mark lasts as long as a lease
    for message_id in ids:
        pipe.set(REQUEUED_KEY.format(message_id), 1, nx=True, ex=lease)
    fresh = [message_id for message_id, marked in zip(ids, pipe.execute(), strict=True) if marked]
    for message_id in fresh:
        jobs.DELIVER_UPDATE.now(message_id)
    return len(fresh)
