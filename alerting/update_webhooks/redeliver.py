"""Sending update messages again on request (SPEC §4): one message, or every failed one of an endpoint.

A redelivered message keeps its ``msg_id`` (so the receiver sees the same ``webhook-id``) and
its log of attempts; it gets a fresh retry schedule.
"""
from __future__ import annotations

from datetime import datetime

from alerting import jobs
from alerting.errors import Conflict
from extensions import db
from models import UpdateEndpoint, WebhookMessage, utcnow

# Recovered messages queued at once; the sweeper queues the rest, which are due too.
RECOVER_QUEUE_BATCH = 1000


def redeliver(message: WebhookMessage) -> WebhookMessage:
    """Make ``message`` pending and due now (queued after commit); the caller commits.

    Raises Conflict if Klaxon disabled its endpoint: the message would only be skipped again.
    """
    endpoint = message.endpoint
    if endpoint.disabled_at:
        raise Conflict(f"The {message.update_type} update URL was disabled ({endpoint.disabled_reason}); "
                       "save it as enabled again first: its skipped messages then go out by themselves.")
    if not endpoint.active:
        raise Conflict(f"The {message.update_type} update URL is switched off; enable it first.")
    message.status, message.attempts, message.next_attempt_at = "pending", 0, utcnow()
    jobs.DELIVER_UPDATE.after_commit(message.id)
    return message


def recover(endpoint: UpdateEndpoint, since: datetime) -> int:
    """Redeliver every dead message of ``endpoint`` created since ``since``.

    Returns how many were made pending; the caller commits. Raises Conflict if the endpoint is not enabled.
    """
    if not endpoint.active:
        raise Conflict(f"The {endpoint.update_type} update URL is not enabled; enable it first.")
    conditions = [WebhookMessage.status == "dead", WebhookMessage.created_at >= since,
                  WebhookMessage.endpoint_id == endpoint.id]
    ids = [row.id for row in db.session.query(WebhookMessage.id).filter(*conditions).order_by(WebhookMessage.id)]
    if not ids:
        return 0
    (db.session.query(WebhookMessage).filter(*conditions)
     .update({"status": "pending", "attempts": 0, "next_attempt_at": utcnow()}, synchronize_session=False))
    for message_id in ids[:RECOVER_QUEUE_BATCH]:
        jobs.DELIVER_UPDATE.after_commit(message_id)
    return len(ids)
