"""The outbox of update webhooks (SPEC §4).

An alert change, a notification result or a response writes its WebhookMessage row in the same
database transaction as the change itself; the delivery job is queued only after that commit.
"""
from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import or_

from extensions import db
from models import Alert, Device, UpdateEndpoint, User, WebhookMessage, utcnow

from . import payloads
from .queue import enqueue_after_commit, enqueue_now, redis_conn

log = logging.getLogger("klaxon.outbox")
UPDATE_TYPE_FOR = {"alert.status": "status", "notification.delivery": "delivery", "alert.response": "response"}
DELIVER_JOB = "workers.webhooks.deliver_message"
# Messages queued straight away when an endpoint comes back; the sweeper queues the rest.
RELEASE_BATCH = 500
SWEEP_BATCH = 500
REQUEUED_KEY = "klaxon:webhooks:requeued:{}"
# As long as a delivery lease: a message a killed worker held is queued again soon after its lease ends.
REQUEUE_EVERY_SECONDS = 30


def build_body(alert: Alert, update_type: str, data: dict) -> str:
    """The exact JSON text to post for one update, in xMatters' form."""
    common = {"when": utcnow(), "properties": alert.properties, "subject": alert.subject,
              "alert_message": alert.message, "include": alert.configuration.include_subject_and_message}
    if update_type == "status":
        payload = payloads.status_payload(alert.id, data["status"], data.get("username"), **common)
    elif update_type == "delivery":
        note = data["notification"]
        payload = payloads.delivery_payload(alert.id, note.recipient, note.device_name, note.device_id,
                                            bool(data["delivered"]), data.get("message"), **common)
    else:
        payload = payloads.response_payload(alert.id, data.get("recipient"), data.get("device"),
                                            data["response"].response, data.get("annotation"), **common)
    return payloads.encode(payload)


def on_event(alert: Alert, kind: str, data: dict) -> WebhookMessage | None:
    """Events listener: record the update message for the configuration's matching endpoint.

    ``alert.created`` writes nothing: creation also emits ``alert.status`` with ACTIVE. An
    endpoint Klaxon disabled gets its message as ``skipped``, kept for when it is re-enabled.
    """
    update_type = UPDATE_TYPE_FOR.get(kind)
    if update_type is None or alert.configuration is None:
        return None
    endpoint = alert.configuration.endpoint(update_type)
    if endpoint is None or not endpoint.enabled or not endpoint.url:
        return None
    message = WebhookMessage(configuration_id=alert.configuration_id, endpoint=endpoint, alert_id=alert.id,
                             update_type=update_type, url=endpoint.url, body=build_body(alert, update_type, data),
                             status="skipped" if endpoint.disabled_at else "pending", next_attempt_at=utcnow())
    db.session.add(message)
    db.session.flush()  # the job needs the row id
    if message.status == "pending":
        enqueue_after_commit("webhooks", DELIVER_JOB, message.id)
    return message


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
        enqueue_after_commit("webhooks", DELIVER_JOB, message_id)
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
    from .transports import TransportError
    from .transports.email import EmailTransport

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
    from .messages import build_message

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
    for message_id in ids:
        pipe.set(REQUEUED_KEY.format(message_id), 1, nx=True, ex=REQUEUE_EVERY_SECONDS)
    fresh = [message_id for message_id, marked in zip(ids, pipe.execute()) if marked]
    for message_id in fresh:
        enqueue_now("webhooks", DELIVER_JOB, message_id)
    return len(fresh)
