"""Posting update webhooks (SPEC §4): claim a message, sign it, send it, log the attempt, then
mark it delivered, schedule the retry, or give up.

The database row is the ledger; Redis only rings the bell. A message is claimed with a
conditional UPDATE (a lease of KLAXON_WEBHOOK_LEASE_SECONDS, 30 s by default), so duplicate jobs
and a second worker are harmless, and a
killed worker's message is picked up again by the sweeper once the lease runs out.
"""
from __future__ import annotations

import base64
import math
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import exists, or_, update
from sqlalchemy.orm import aliased

from alerting import jobs
from alerting.alerts.lifecycle import add_timeline
from alerting.configurations import active_secrets
from alerting.outbound import http
from alerting.update_webhooks import retry as backoff
from alerting.update_webhooks import signing
from alerting.update_webhooks.outbox import disable_endpoint, email_admins
from extensions import db
from models import Alert, WebhookAttempt, WebhookMessage, utcnow
from runtime.metrics import WEBHOOK_MESSAGES
from runtime.queue import redis_conn

TIMEOUT_SECONDS = 10
SLOTS_KEY = "klaxon:webhooks:slots:{}"
# A free slot or nothing, atomically: expired holders (killed workers) are dropped first.
TAKE_SLOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


@dataclass
class Send:
    """What one attempt posts, read from the row before the call so no transaction stays open."""
    message_id: int
    msg_id: str
    url: str
    body: str
    update_type: str
    secrets: list
    # a trigger's callback with authType BASIC; kept out of repr, so no log shows the password
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)


def deliver(message_id: int) -> str:
    """Make one delivery attempt of a message if it is due and free; return what happened."""
    now = utcnow()
    if not claim(message_id, now):
        db.session.commit()
        return "not-due"
    message = db.session.get(WebhookMessage, message_id)
    endpoint = message.endpoint
    if not endpoint.active:
        message.status, message.locked_until = "skipped", None
        WEBHOOK_MESSAGES.labels(message.update_type, "skipped").inc()
        db.session.commit()
        return "skipped"
    endpoint_id = endpoint.id
    send = Send(message.id, message.msg_id, endpoint.url, message.body, message.update_type,
                active_secrets(endpoint.configuration), basic_auth(endpoint))
    db.session.commit()  # the lease is taken; no transaction stays open while Redis and the network answer
    slot = take_slot(endpoint_id)
    if slot is None:
        return _defer(message_id)
    try:
        outcome = post(send)
    finally:
        give_back_slot(endpoint_id, slot)
    return record(send, outcome)


def claim(message_id: int, now: datetime) -> bool:
    """Lease the message for one attempt: only if pending, due, not leased by a live worker, and
    no earlier update of the same alert to the same endpoint is still pending (order per alert)."""
    earlier = aliased(WebhookMessage)
    result = db.session.execute(
        update(WebhookMessage)
        .where(WebhookMessage.id == message_id, WebhookMessage.status == "pending",
               or_(WebhookMessage.next_attempt_at.is_(None), WebhookMessage.next_attempt_at <= now),
               or_(WebhookMessage.locked_until.is_(None), WebhookMessage.locked_until < now),
               ~exists().where(earlier.alert_id == WebhookMessage.alert_id,
                               earlier.endpoint_id == WebhookMessage.endpoint_id,
                               earlier.id < WebhookMessage.id, earlier.status == "pending"))
        .values(locked_until=now + timedelta(seconds=lease_seconds()))
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def post(send: Send) -> http.Outcome:
    """Sign (fresh timestamp, every active secret, the same webhook-id) and POST the body."""
    body = send.body.encode()
    headers = signing.sign_headers(send.msg_id, body, send.secrets, utcnow())
    headers.update({"Content-Type": "application/json", "User-Agent": http.user_agent(),
                    "X-Klaxon-Update-Type": send.update_type})
    if send.basic_auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(send.basic_auth).encode()).decode("ascii")
    session = http.session(current_app.config["KLAXON"].webhook_allow_cidrs)
    return http.post(session, send.url, body, headers, timeout=TIMEOUT_SECONDS)


def basic_auth(endpoint) -> tuple[str, str] | None:
    """(user, password) of a callback with authType BASIC; None for every other endpoint."""
    if endpoint.auth_user_name is None:
        return None
    return endpoint.auth_user_name, endpoint.auth_password or ""


def lease_seconds() -> float:
    """How long one attempt holds its message (KLAXON_WEBHOOK_LEASE_SECONDS)."""
    return current_app.config["KLAXON"].webhook_lease_seconds


def record(send: Send, outcome: http.Outcome) -> str:
    """Log the attempt and move the message on: delivered, retry later, dead, or skipped."""
    now = utcnow()
    message = db.session.get(WebhookMessage, send.message_id)
    if message is None:  # deleted with its configuration while we were sending
        return "gone"
    db.session.add(WebhookAttempt(message_id=message.id, at=now, url=send.url, status_code=outcome.status_code,
                                  duration_ms=outcome.duration_ms, error_class=outcome.error_class,
                                  error=outcome.error, response_body=outcome.body))
    message.attempts += 1
    message.url, message.last_status_code, message.last_error = send.url, outcome.status_code, outcome.error
    message.locked_until = None
    if message.status != "pending" and not outcome.ok:  # skipped meanwhile: keep the log, not the verdict
        db.session.commit()
        return message.status
    if outcome.ok:
        result = _delivered(message, outcome, now)
    elif outcome.status_code == 410:
        result = _gone(message, now)
    else:
        result = _failed(message, outcome, now)
    WEBHOOK_MESSAGES.labels(message.update_type, result).inc()
    due = message.next_attempt_at
    following = _next_in_line(message) if result != "retry" else None
    db.session.commit()
    if following is not None:  # it waited for this one to be settled
        jobs.DELIVER_UPDATE.now(following)
    if result == "retry":
        jobs.DELIVER_UPDATE.now(send.message_id, delay=_queue_delay(due))
    elif result == "disabled":
        email_admins(message.endpoint)
    return result


def _next_in_line(message: WebhookMessage) -> int | None:
    """The next pending update of the same alert to the same endpoint, if any."""
    if message.alert_id is None:
        return None
    return (db.session.query(WebhookMessage.id)
            .filter(WebhookMessage.alert_id == message.alert_id, WebhookMessage.endpoint_id == message.endpoint_id,
                    WebhookMessage.id > message.id, WebhookMessage.status == "pending")
            .order_by(WebhookMessage.id).limit(1).scalar())


def _delivered(message: WebhookMessage, outcome, now) -> str:
    endpoint = message.endpoint
    message.status, message.delivered_at, message.last_error = "delivered", now, None
    endpoint.last_success_at, endpoint.failing_since = now, None
    endpoint.last_result = f"HTTP {outcome.status_code} in {outcome.duration_ms} ms"
    _timeline(message, "WEBHOOK_DELIVERED", statusCode=outcome.status_code)
    return "delivered"


def _gone(message: WebhookMessage, now) -> str:
    message.status = "dead"
    disable_endpoint(message.endpoint, "410 Gone", now)
    _timeline(message, "WEBHOOK_FAILED", statusCode=410, error="410 Gone: the update URL was disabled")
    return "gone"


def _failed(message: WebhookMessage, outcome, now) -> str:
    settings = current_app.config["KLAXON"]
    endpoint = message.endpoint
    if endpoint.disabled_at:  # another worker disabled it while this attempt was out
        message.status = "skipped"
        return "skipped"
    endpoint.failing_since = endpoint.failing_since or now
    endpoint.last_result = outcome.error or outcome.error_class
    if now - endpoint.failing_since >= timedelta(hours=settings.endpoint_disable_after_hours):
        disable_endpoint(endpoint, f"failing since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC "
                                   f"(last: {endpoint.last_result})", now)
        message.status = "skipped"  # kept, and sent again once someone re-enables the endpoint
        return "disabled"
    # http.post reads Retry-After only from a 429, 502, 503 or 504
    delay = backoff.next_delay(message.attempts, settings.webhook_retry_schedule, outcome.retry_after)
    if delay is None:
        message.status = "dead"
        _timeline(message, "WEBHOOK_FAILED", statusCode=outcome.status_code, error=endpoint.last_result)
        return "dead"
    message.next_attempt_at = now + timedelta(seconds=delay)
    return "retry"


def _timeline(message: WebhookMessage, type_: str, **detail) -> None:
    alert = db.session.get(Alert, message.alert_id) if message.alert_id else None
    if alert is not None:
        add_timeline(alert, type_, updateType=message.update_type, msgId=message.msg_id,
                     attempts=message.attempts, url=message.url, **detail)


def _defer(message_id: int) -> str:
    """The endpoint is at its concurrency cap: try again shortly, without holding a worker."""
    due = utcnow() + timedelta(seconds=random.uniform(0.5, 2.0))
    db.session.execute(update(WebhookMessage).where(WebhookMessage.id == message_id)
                       .values(locked_until=None, next_attempt_at=due)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    jobs.DELIVER_UPDATE.now(message_id, delay=_queue_delay(due))
    return "deferred"


def _queue_delay(due: datetime) -> float:
    """Seconds until the whole second after ``due``: RQ's scheduler rounds times down to the second."""
    due_ts = due.replace(tzinfo=UTC).timestamp()
    return max(0.001, math.ceil(due_ts) - time.time() + 0.001)


def take_slot(endpoint_id: int) -> str | None:
    """One of the endpoint's ``KLAXON_ENDPOINT_CONCURRENCY`` slots (held at most a lease), or None."""
    cap = current_app.config["KLAXON"].endpoint_concurrency
    token = uuid.uuid4().hex
    now_ms = int(time.time() * 1000)
    lease_ms = int(lease_seconds() * 1000)
    try:
        taken = redis_conn().eval(TAKE_SLOT, 1, SLOTS_KEY.format(endpoint_id), now_ms, cap,
                                  now_ms + lease_ms, token, lease_ms)
    except (RedisError, OSError):
        return ""  # Redis is down: send without the cap rather than not at all
    return token if taken else None


def give_back_slot(endpoint_id: int, token: str) -> None:
    """Free a slot from :func:`take_slot` (an empty token means none was taken)."""
    if not token:
        return
    try:
        redis_conn().zrem(SLOTS_KEY.format(endpoint_id), token)
    except (RedisError, OSError):
        pass  # the slot expires with its lease
