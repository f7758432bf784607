"""/api/v1/webhook-messages: the outbound log of update webhooks, redeliver one, recover many."""
import json
from datetime import UTC, datetime

from flask import jsonify, request

from alerting.errors import FieldError, NotFound
from alerting.ids import row_id
from alerting.update_webhooks import redeliver as redelivery
from blueprints.api import body, bp, by_status, page
from extensions import db
from models import MESSAGE_STATUSES, UPDATE_TYPES, Alert, Configuration, WebhookAttempt, WebhookMessage, iso


def message_json(message: WebhookMessage, detail: bool = False) -> dict:
    alert = db.session.get(Alert, message.alert_id) if message.alert_id else None
    data = {
        "msgId": message.msg_id, "status": message.status, "updateType": message.update_type,
        "configuration": message.endpoint.configuration.uuid, "url": message.url,
        "alertId": alert.uuid if alert else None, "eventIdentifier": message.alert_id,
        "attemptCount": message.attempts, "nextAttemptAt": iso(message.next_attempt_at)
        if message.status == "pending" else None, "lastStatusCode": message.last_status_code,
        "lastError": message.last_error, "createdAt": iso(message.created_at),
        "deliveredAt": iso(message.delivered_at),
    }
    if detail:
        data["payload"] = json.loads(message.body)
        data["attempts"] = [attempt_json(a) for a in message.attempts_log]
    return data


def attempt_json(attempt: WebhookAttempt) -> dict:
    return {"at": iso(attempt.at), "url": attempt.url, "statusCode": attempt.status_code,
            "durationMs": attempt.duration_ms, "errorClass": attempt.error_class, "error": attempt.error,
            "responseBody": attempt.response_body}


def get_message(msg_id) -> WebhookMessage:
    message = db.session.query(WebhookMessage).filter_by(msg_id=msg_id).first()
    if message is None:
        raise NotFound(f"No webhook message {msg_id!r}.")
    return message


def get_configuration(field, config_uuid) -> Configuration:
    cfg = db.session.query(Configuration).filter_by(uuid=config_uuid).first() \
        if isinstance(config_uuid, str) else None
    if cfg is None:
        raise FieldError(field, f"no configuration {config_uuid!r}")
    return cfg


def update_type(field, value) -> str:
    if value not in UPDATE_TYPES:
        raise FieldError(field, "must be one of " + ", ".join(UPDATE_TYPES))
    return value


@bp.get("/webhook-messages")
def list_webhook_messages():
    """Update messages newest first; filters: status, updateType, configuration (uuid), alertId."""
    query = by_status(db.session.query(WebhookMessage), WebhookMessage.status, MESSAGE_STATUSES, str.lower)
    if request.args.get("updateType"):
        query = query.filter(WebhookMessage.update_type == update_type("updateType", request.args["updateType"]))
    if request.args.get("configuration"):
        cfg = get_configuration("configuration", request.args["configuration"])
        query = query.filter(WebhookMessage.configuration_id == cfg.id)
    alert_id = request.args.get("alertId")
    if alert_id:
        number = row_id(alert_id)
        alert = db.session.query(Alert).filter(
            Alert.id == number if number is not None else Alert.uuid == alert_id).first()
        if alert is None:
            raise FieldError("alertId", f"no alert {alert_id!r}")
        query = query.filter(WebhookMessage.alert_id == alert.id)
    return page(query, WebhookMessage.id, message_json)


@bp.get("/webhook-messages/<msg_id>")
def get_webhook_message(msg_id):
    """One message with its payload and every attempt."""
    return jsonify(message_json(get_message(msg_id), detail=True))


@bp.post("/webhook-messages/<msg_id>/redeliver")
def redeliver_webhook_message(msg_id):
    """Send one message again (same webhook-id, fresh retry schedule)."""
    message = redelivery.redeliver(get_message(msg_id))
    db.session.commit()
    return jsonify(message_json(message, detail=True)), 202


@bp.post("/webhook-messages/recover")
def recover_webhook_messages():
    """Send again every dead message of one update type of a configuration since a time."""
    data = body()
    cfg = get_configuration("configuration", data.get("configuration"))
    endpoint = cfg.endpoint(update_type("updateType", data.get("updateType")))
    if endpoint is None:
        raise FieldError("updateType", f"configuration {cfg.uuid} has no {data['updateType']} update URL")
    count = redelivery.recover(endpoint, parse_since(data.get("since")))
    db.session.commit()
    return jsonify({"requeued": count}), 202


def parse_since(value) -> datetime:
    """An ISO 8601 time (``Z`` or an offset; none means UTC) as naive UTC, like the database."""
    if not isinstance(value, str):
        raise FieldError("since", "is required: an ISO 8601 time such as 2024-05-01T00:00:00Z")
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FieldError("since", f"{value!r} is not an ISO 8601 time such as 2024-05-01T00:00:00Z") from None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when
