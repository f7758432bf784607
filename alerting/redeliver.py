"""Sending update messages again on request (SPEC §4): one message, or every failed one of an endpoint.

A redelivered message keeps its ``msg_id`` (so the receiver sees the same ``webhook-id``) and
its log of attempts; it gets a fresh retry schedule.
"""
from __future__ import annotations

from datetime import datetime

from extensions import db
from models import UpdateEndpoint, WebhookMessage, utcnow

from .errors import Conflict
from .outbox import DELIVER_JOB
from .queue import enqueue_after_commit

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
    enqueue_after_commit("webhooks", DELIVER_JOB, message.id)
    return message


def recover(target: UpdateEndpoint | str, since: datetime) -> int:
    """Redeliver every dead message of an endpoint (or of every endpoint posting to a URL) since ``since``.

    Returns how many were made pending; the caller commits.
    """
    conditions = [WebhookMessage.status == "dead", WebhookMessage.created_at >= since]
    if isinstance(target, UpdateEndpoint):
        if not target.active:
            raise Conflict(f"The {target.update_type} update URL is not enabled; enable it first.")
        conditions.append(WebhookMessage.endpoint_id == target.id)
    else:
        active = [e.id for e in db.session.query(UpdateEndpoint).filter_by(url=target) if e.active]
        conditions += [WebhookMessage.url == target, WebhookMessage.endpoint_id.in_(active)]
    ids = [row.id for row in db.session.query(WebhookMessage.id).filter(*conditions).order_by(WebhookMessage.id)]
    if not ids:
        return 0
    (db.session.query(WebhookMessage).filter(*conditions)
     .update({"status": "pending", "attempts": 0, "next_attempt_at": utcnow()}, synchronize_session=False))
    for message_id in ids[:RECOVER_QUEUE_BATCH]:
        enqueue_after_commit("webhooks", DELIVER_JOB, message_id)
    return len(ids)
