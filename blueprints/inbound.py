"""The integration URL (SPEC §2): POST /api/integration/1/functions/<uuid>/triggers."""
from __future__ import annotations

import base64
import hmac
import json
import logging
import uuid as uuidlib

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import DBAPIError, OperationalError

from alerting.alerts import apply_change
from alerting.metrics import ALERTS_RECEIVED
from alerting.ratelimit import over_limit
from alerting.sources import SourceError, parse
from alerting.sources.pagerduty import pagerduty_error_body, pagerduty_success_body, with_dedup_key
from extensions import db
from models import Configuration

bp = Blueprint("inbound", __name__)
log = logging.getLogger("klaxon.inbound")
REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 409: "Conflict", 413: "Payload Too Large",
           415: "Unsupported Media Type", 429: "Too Many Requests", 503: "Service Unavailable"}


class Reject(Exception):
    def __init__(self, code, message, headers=None, field=None):
        super().__init__(message)
        self.code, self.message, self.headers, self.field = code, message, headers or {}, field
        self.template = None  # set once the configuration is known: its errors take the source's style


def error_response(template: str | None, err: Reject):
    if template == "pagerduty" and err.code == 400:
        body = pagerduty_error_body(err.message)
    else:
        body = {"code": err.code, "reason": REASONS[err.code], "message": err.message}
    response = jsonify(body)
    response.status_code = err.code
    response.headers.update(err.headers)
    return response


def presented_key(template: str) -> str | None:
    """The API key from ?apiKey=, X-Api-Key, or HTTP Basic (password) — whichever came."""
    key = request.args.get("apiKey") or request.headers.get("X-Api-Key")
    if key:
        return key
    auth = request.headers.get("Authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            return base64.b64decode(auth[6:]).decode().partition(":")[2] or None
        except (ValueError, UnicodeDecodeError):
            return None
    return None


def load_configuration(config_uuid: str) -> Configuration:
    try:
        uuidlib.UUID(config_uuid)
    except ValueError:
        raise Reject(404, f"No configuration {config_uuid!r}; check the integration URL.") from None
    cfg = db.session.query(Configuration).filter_by(uuid=config_uuid).first()
    if cfg is None:
        raise Reject(404, f"No configuration {config_uuid!r}; check the integration URL.")
    return cfg


def read_json(limit: int):
    if request.content_length is not None and request.content_length > limit:
        raise Reject(413, f"The body is {request.content_length} bytes; the limit is {limit} "
                          "(KLAXON_MAX_PAYLOAD_BYTES).")
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise Reject(415, "Send the body as JSON with Content-Type: application/json.")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise Reject(413, f"The body is over the limit of {limit} bytes (KLAXON_MAX_PAYLOAD_BYTES).")
    try:
        return json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise Reject(400, f"body: malformed JSON ({getattr(exc, 'msg', 'not UTF-8')})", field="body") from None


def check_key(cfg: Configuration, key: str | None) -> None:
    if not key:
        raise Reject(401, "Pass the configuration's API key as ?apiKey=, X-Api-Key or HTTP Basic password.")
    if not hmac.compare_digest(key.encode(), cfg.api_key.encode()):
        raise Reject(401, "The API key is wrong for this configuration.")


@bp.post("/api/integration/1/functions/<config_uuid>/triggers")
def trigger(config_uuid):
    return receive(lambda: locate(config_uuid))


def locate(config_uuid: str) -> tuple[Configuration, object]:
    """The configuration named in the URL, once the presented key is checked, and the body."""
    cfg = load_configuration(config_uuid)
    try:
        return cfg, opened_body(cfg)
    except Reject as err:
        err.template = cfg.template
        raise


def opened_body(cfg: Configuration):
    """The body, once the key presented for ``cfg`` is checked."""
    limit = current_app.config["KLAXON"].max_payload_bytes
    key = presented_key(cfg.template)
    if key is None and cfg.template == "pagerduty":  # PagerDuty senders put the key in the body
        payload = read_json(limit)
        check_key(cfg, routing_key(payload))
        return payload
    check_key(cfg, key)
    return read_json(limit)


def routing_key(payload) -> str | None:
    """The ``routing_key`` of a PagerDuty Events v2 body, when it is a string."""
    key = payload.get("routing_key") if isinstance(payload, dict) else None
    return key if isinstance(key, str) else None


def receive(find, template: str | None = None):
    """The integration URL's path after routing: ``find()`` returns (configuration, body) or raises
    Reject; the rest (enabled, parse, rate limit, apply) is the same for every way in.
    ``template`` styles the errors raised before a configuration is known."""
    cfg = None
    try:
        cfg, payload = find()
        if not cfg.enabled:
            raise Reject(409, "This configuration is disabled; enable it in the dashboard to accept alerts.")
        try:
            changes = parse(cfg.template, payload, cfg.custom_mapping)
        except SourceError as exc:
            raise Reject(400, str(exc), field=exc.field) from None
        if cfg.template == "pagerduty":
            changes = [with_dedup_key(change) for change in changes]
        wait = over_limit(cfg, len(changes))
        if wait:
            raise Reject(429, f"Over this configuration's limit of {cfg.rate_limit_per_minute} alerts per "
                              f"minute; retry after {wait} s.", headers={"Retry-After": str(wait)})
        return accept(cfg, changes)
    except Reject as err:
        db.session.rollback()
        ALERTS_RECEIVED.labels(configuration=cfg.uuid if cfg else "unknown", outcome="rejected").inc()
        return error_response(cfg.template if cfg else err.template or template, err)
    except (OperationalError, DBAPIError) as exc:
        db.session.rollback()
        log.error("database unavailable while accepting an alert: %s", type(exc).__name__)
        err = Reject(503, "The database is unavailable; retry shortly.", headers={"Retry-After": "5"})
        return error_response(None, err)


def accept(cfg: Configuration, changes: list):
    """Apply every change in one transaction; the 202 goes out only after the commit."""
    request_id = str(uuidlib.uuid4())
    outcomes = [apply_change(cfg, change, request_id) for change in changes]
    bodies = [outcome_json(request_id, o) for o in outcomes]  # built before commit: no reload after it
    config_uuid, template = cfg.uuid, cfg.template
    db.session.commit()
    for outcome in outcomes:
        ALERTS_RECEIVED.labels(configuration=config_uuid, outcome=outcome.action).inc()
    if template == "pagerduty":
        return jsonify(pagerduty_success_body(changes[0].dedup_key)), 202
    if template == "webhook" or len(bodies) == 1:
        return jsonify(bodies[0] if bodies else {"requestId": request_id}), 202
    return jsonify({"requestId": request_id, "alerts": bodies}), 202


def outcome_json(request_id, outcome) -> dict:
    alert = outcome.alert
    body = {"requestId": request_id}
    if alert is not None:
        body.update(alertId=alert.uuid, eventIdentifier=alert.id, status=alert.status)
    if outcome.deduplicated:
        body["deduplicated"] = True
    if outcome.unresolved:
        body["unresolvedRecipients"] = [r["id"] for r in outcome.unresolved]
    if outcome.action not in ("created", "deduplicated"):
        body["action"] = outcome.action
    return body
