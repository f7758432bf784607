"""The integration URL (SPEC §2): POST /api/integration/1/functions/<uuid>/triggers.

Bodies are read as real senders send them: any JSON media type, JSON with no or a text/plain
Content-Type, and for the webhook template a form and xMatters' query parameters.
"""
from __future__ import annotations

import base64
import hmac
import logging
import uuid as uuidlib
from dataclasses import dataclass, fields, replace
from urllib.parse import parse_qsl

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import bindparam, select
from sqlalchemy.exc import DBAPIError, OperationalError

from alerting import heartbeats
from alerting.alerts import callbacks, config_cache, group_commit
from alerting.alerts.create import apply_change
from alerting.alerts.ratelimit import give_back, over_limit
from alerting.errors import FieldError
from alerting.json_input import parse_json
from alerting.sources import SourceError, parse
from alerting.sources.pagerduty import pagerduty_error_body, pagerduty_success_body, with_dedup_key
from extensions import db
from models import Configuration
from runtime.metrics import ALERTS_RECEIVED

bp = Blueprint("inbound", __name__)
FORM_FIELDS = ("subject", "message", "priority")
log = logging.getLogger("klaxon.inbound")
REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
           413: "Payload Too Large",
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


@dataclass(frozen=True)
class ConfigurationSnapshot:
    """What the integration URL reads of a configuration before any write lock (SPEC §2)."""
    id: int
    uuid: str
    name: str
    template: str
    api_key: str
    enabled: bool
    custom_mapping: str | None
    rate_limit_per_minute: int


SNAPSHOT_COLUMNS = [getattr(Configuration.__table__.c, f.name) for f in fields(ConfigurationSnapshot)]
# built once: a statement made per request costs its construction and cache key every time
SNAPSHOT_BY_UUID = select(*SNAPSHOT_COLUMNS).where(Configuration.__table__.c.uuid == bindparam("config_uuid"))


def snapshot(cfg) -> ConfigurationSnapshot:
    return ConfigurationSnapshot(*(getattr(cfg, f.name) for f in fields(ConfigurationSnapshot)))


def load_configuration(config_uuid: str) -> ConfigurationSnapshot:
    """The configuration by uuid, read on a pooled DBAPI connection of its own that takes no write
    lock (on SQLite it is in autocommit mode: the SELECT is a read transaction of its own, outside
    this process's writer lock; runtime.sqlite). The statement is compiled once per dialect: the
    Connection and statement machinery cost ~0.2 ms a request, the SELECT itself ~0.03 ms."""
    try:
        uuidlib.UUID(config_uuid)
    except ValueError:
        raise Reject(404, f"No configuration {config_uuid!r}; check the integration URL.") from None
    sql, positional = _snapshot_sql(db.engine.dialect)
    dbapi_error = db.engine.dialect.loaded_dbapi.Error
    try:
        conn = db.engine.raw_connection()  # pinged first if it sat idle (runtime.idle_ping)
    except dbapi_error as exc:  # the pool raises the driver's own error: as SQLAlchemy's, it is a 503
        raise OperationalError("connect", {}, exc) from None
    try:
        cursor = conn.cursor()
        cursor.execute(sql, (config_uuid,) if positional else {"config_uuid": config_uuid})
        row = cursor.fetchone()
        cursor.close()
        conn.rollback()
    except dbapi_error as exc:
        conn.invalidate()  # not given back to the pool as it is: the next checkout connects afresh
        raise OperationalError(sql, {"config_uuid": config_uuid}, exc) from None
    finally:
        conn.close()  # back to the pool
    if row is None:
        raise Reject(404, f"No configuration {config_uuid!r}; check the integration URL.")
    snap = ConfigurationSnapshot(*row)
    return replace(snap, enabled=bool(snap.enabled))  # SQLite's DBAPI gives 0 or 1


_compiled: dict[str, tuple[str, bool]] = {}


def _snapshot_sql(dialect) -> tuple[str, bool]:
    """SNAPSHOT_BY_UUID as the DBAPI's SQL text, and whether its one parameter is positional."""
    found = _compiled.get(dialect.name)
    if found is None:
        compiled = SNAPSHOT_BY_UUID.compile(dialect=dialect)
        found = _compiled[dialect.name] = (str(compiled), bool(compiled.positional))
    return found


def read_json(limit: int, forms: bool = False):
    """The body as a JSON value (SPEC §2 content types); with ``forms``, a form's fields as a trigger body."""
    if request.content_length is not None and request.content_length > limit:
        raise Reject(413, f"The body is {request.content_length} bytes; the limit is {limit} "
                          "(KLAXON_MAX_PAYLOAD_BYTES).")
    raw = raw_body(limit)
    if len(raw) > limit:
        raise Reject(413, f"The body is over the limit of {limit} bytes (KLAXON_MAX_PAYLOAD_BYTES).")
    kind = body_kind(request.mimetype or "", raw, forms)
    if kind == "form":
        return form_body(raw)
    if kind is None:
        raise Reject(415, "Send the body as JSON (Content-Type: application/json)"
                          + (" or as a form (application/x-www-form-urlencoded)." if forms else "."))
    try:
        return parse_json(raw if raw.strip() else b"{}")
    except FieldError as exc:
        raise Reject(400, exc.message, field=exc.field) from None


def raw_body(limit: int) -> bytes:
    """The body's first ``limit`` + 1 bytes, read from the stream once per request (a request whose
    cached configuration turned out stale is read again from the top: ``receive``)."""
    raw = request.environ.get("klaxon.raw_body")  # the request's own (g outlives it in a test's app context)
    if raw is None:
        raw = request.environ["klaxon.raw_body"] = request.stream.read(limit + 1)
    return raw


def body_kind(mimetype: str, raw: bytes, forms: bool) -> str | None:
    """"json", "form" or None (415). JSON media types are JSON; so is a body with no or a
    text/plain Content-Type that is empty or looks like a JSON object (malformed, it is a 400)."""
    if mimetype in ("application/json", "text/json") or mimetype.endswith("+json"):
        return "json"
    if forms and mimetype == "application/x-www-form-urlencoded":
        return "form"
    if mimetype in ("", "text/plain") and (not raw.strip() or raw.lstrip()[:1] == b"{"):
        return "json"
    return None


def form_body(raw: bytes) -> dict:
    """A form's fields become properties; ``subject``, ``message`` and ``priority`` also fill those fields."""
    try:
        fields = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=1000))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Reject(400, f"body: not a readable form ({type(exc).__name__})", field="body") from None
    body: dict = {"properties": fields}
    for name in FORM_FIELDS:
        if fields.get(name, "").strip():
            body[name] = fields[name]
    return body


def with_query_fields(payload):
    """xMatters' "trigger alerts by webhook": ``?recipients=`` (comma-separated names), ``?subject=``
    and ``?message=`` fill the fields the body lacks."""
    if not isinstance(payload, dict):
        return payload
    filled = dict(payload)
    names = [name.strip() for name in request.args.get("recipients", "").split(",") if name.strip()]
    if names and filled.get("recipients") is None:
        filled["recipients"] = names
    for name in ("subject", "message"):
        if request.args.get(name, "").strip() and not filled.get(name):
            filled[name] = request.args[name]
    return filled


def check_key(cfg: ConfigurationSnapshot, key: str | None) -> None:
    if not key:
        raise Reject(401, "Pass the configuration's API key as ?apiKey=, X-Api-Key or HTTP Basic password.")
    if not hmac.compare_digest(key.encode(), cfg.api_key.encode()):
        raise Reject(401, "The API key is wrong for this configuration.")


@bp.post("/api/integration/1/functions/<config_uuid>/triggers")
def trigger(config_uuid):
    return receive(lambda fresh: locate(config_uuid, fresh=fresh))


@bp.get("/api/integration/1/functions/<config_uuid>/triggers")
def ping(config_uuid):
    """A heartbeat's ping by GET (SPEC §10); every other template takes only POST."""
    return receive(lambda fresh: locate(config_uuid, ping_only=True, fresh=fresh))


# uuid -> the snapshot this process read last: a hint, never the last word. A request that used
# it is accepted only if its batch's transaction sees the same configuration (apply_all), and any
# refusal is made again from a fresh read (receive), so an edit on any process shows at once.
_snapshots: dict[str, ConfigurationSnapshot] = {}


def locate(config_uuid: str, ping_only: bool = False, fresh: bool = True) -> tuple[ConfigurationSnapshot, object, bool]:
    """The configuration named in the URL, once the presented key is checked, the body, and whether
    the configuration came from this process's snapshots (unless ``fresh``) rather than the database.
    A heartbeat's is always read afresh: its ping is written outside the writer's check."""
    cached = None if fresh else _snapshots.get(config_uuid)
    if cached is not None and cached.template != "heartbeat":
        try:
            return cached, opened(cached, ping_only), True
        except Reject:
            raise Stale from None  # a refusal is never the snapshot's: made again from a fresh read
    try:
        cfg = load_configuration(config_uuid)
    except Reject:
        _snapshots.pop(config_uuid, None)  # deleted: no more tries with what it was
        raise
    _snapshots[config_uuid] = cfg
    return cfg, opened(cfg, ping_only), False


def opened(cfg: ConfigurationSnapshot, ping_only: bool):
    """The body of a request to ``cfg``'s URL, once its method and key are checked."""
    try:
        if ping_only and cfg.template != "heartbeat":
            raise Reject(405, "POST alerts to this URL; only a heartbeat configuration is pinged by GET.",
                         headers={"Allow": "POST"})
        return opened_body(cfg)
    except Reject as err:
        err.template = cfg.template
        raise


def opened_body(cfg: ConfigurationSnapshot):
    """The body, once the key presented for ``cfg`` is checked."""
    limit = current_app.config["KLAXON"].max_payload_bytes
    key = presented_key(cfg.template)
    if cfg.template == "heartbeat":  # a ping: any body, or none, and it is not read
        check_key(cfg, key)
        return None
    if key is None and cfg.template == "pagerduty":  # PagerDuty senders put the key in the body
        payload = read_json(limit)
        check_key(cfg, routing_key(payload))
        return payload
    check_key(cfg, key)
    if cfg.template == "webhook":
        return with_query_fields(read_json(limit, forms=True))
    return read_json(limit)


def routing_key(payload) -> str | None:
    """The ``routing_key`` of a PagerDuty Events v2 body, when it is a string."""
    key = payload.get("routing_key") if isinstance(payload, dict) else None
    return key if isinstance(key, str) else None


class Stale(Exception):
    """A request made with this process's snapshot of its configuration must be made again from a
    fresh read: its batch's transaction saw another configuration, or the snapshot refused it."""


stale_retries = 0  # requests made again from a fresh read (tests, the bench)


def receive(find, template: str | None = None):
    """The integration URL's path after routing: ``find(fresh)`` returns (configuration, body,
    whether the configuration is this process's snapshot) or raises Reject; the rest (enabled,
    parse, rate limit, apply) is the same for every way in. A request made with a snapshot that
    was refused, or that its batch found stale, is made once more from a fresh read, and that
    second time is answered exactly as a request that read the database first always was.
    ``template`` styles the errors raised before a configuration is known."""
    global stale_retries
    try:
        return _receive(find, template, fresh=False)
    except Stale:
        stale_retries += 1
        return _receive(find, template, fresh=True)


def _receive(find, template: str | None, fresh: bool):
    cfg, cached = None, False
    try:
        found, payload, cached = find(fresh)
        cfg = snapshot(found)
        db.session.rollback()  # end any read of find's (on SQLite it may hold the writer lock) before the writes
        if not cfg.enabled:
            raise Reject(409, "This configuration is disabled; enable it in the dashboard to accept alerts.")
        if cfg.template == "heartbeat":
            return heartbeat_ping(cfg)
        try:
            changes = parse(cfg.template, payload, cfg.custom_mapping)
        except SourceError as exc:
            raise Reject(400, str(exc), field=exc.field) from None
        if cfg.template == "pagerduty":
            changes = [with_dedup_key(change) for change in changes]
        try:
            callbacks.check_urls(changes)
        except FieldError as exc:
            raise Reject(400, exc.message, field=exc.field) from None
        wait = over_limit(cfg, len(changes))
        if wait:
            raise Reject(429, f"Over this configuration's limit of {cfg.rate_limit_per_minute} alerts per "
                              f"minute; retry after {wait} s.", headers={"Retry-After": str(wait)})
        return accept(cfg, changes, exact=cached)
    except Reject as err:
        if cached:
            raise Stale from None  # a refusal is never the snapshot's: made again from a fresh read
        db.session.rollback()
        ALERTS_RECEIVED.labels(configuration=cfg.name if cfg else "unknown", outcome="rejected").inc()
        return error_response(cfg.template if cfg else err.template or template, err)
    except (OperationalError, DBAPIError) as exc:
        db.session.rollback()
        log.error("database unavailable while accepting an alert: %s", type(exc).__name__)
        err = Reject(503, "The database is unavailable; retry shortly.", headers={"Retry-After": "5"})
        return error_response(None, err)


STALE = object()  # apply_all's answer when the batch sees another configuration than the request's


def accept(cfg: ConfigurationSnapshot, changes: list, exact: bool = False):
    """Apply every change in one transaction of the process's writer (group commit); the 202 goes
    out only after the commit of the batch that holds them. With ``exact`` (``cfg`` is this
    process's snapshot), the batch writes nothing unless it sees that same configuration."""
    request_id = str(uuidlib.uuid4())
    wait = current_app.config["KLAXON"].db_lock_timeout_seconds
    done = group_commit.submit(lambda: apply_all(cfg, changes, request_id, exact), wait)
    if done is STALE:
        give_back(cfg, len(changes))  # counted by over_limit; the fresh try counts them again
        raise Stale
    bodies, actions = done
    for action in actions:
        ALERTS_RECEIVED.labels(configuration=cfg.name, outcome=action).inc()
    if cfg.template == "pagerduty":
        return jsonify(pagerduty_success_body(changes[0].dedup_key)), 202
    if cfg.template == "webhook" or len(bodies) == 1:
        return jsonify(bodies[0] if bodies else {"requestId": request_id}), 202
    return jsonify({"requestId": request_id, "alerts": bodies}), 202


def apply_all(snap: ConfigurationSnapshot, changes: list, request_id: str, exact: bool = False):
    """In the writer's transaction: apply the changes; the 202's bodies and the outcomes' actions,
    built before the commit (no reload after it). With ``exact``, STALE (and nothing written)
    unless the configuration is the very ``snap`` the request was checked against; else a
    configuration disabled or deleted since the request read it is refused as it would have been then."""
    cfg = config_cache.configuration(snap.id)  # no SELECT while the configuration version holds
    if exact and (cfg is None or snapshot(cfg) != snap):
        return STALE
    if cfg is None:
        raise Reject(404, "This configuration was deleted; check the integration URL.")
    if not cfg.enabled:
        raise Reject(409, "This configuration is disabled; enable it in the dashboard to accept alerts.")
    outcomes = [apply_change(cfg, change, request_id) for change in changes]
    bodies = [outcome_json(request_id, o, change) for o, change in zip(outcomes, changes, strict=True)]
    return bodies, [outcome.action for outcome in outcomes]


def heartbeat_ping(snap: ConfigurationSnapshot):
    """Record a heartbeat's ping (ending its outage, if any); 200 {"status": "up", "nextExpectedAt"}."""
    cfg = db.session.get(Configuration, snap.id)
    if cfg is None:
        raise Reject(404, "This configuration was deleted; check the integration URL.")
    body = heartbeats.ping(cfg, request.method, request.remote_addr, request.user_agent.string)
    config_name = cfg.name
    db.session.commit()
    ALERTS_RECEIVED.labels(configuration=config_name, outcome="ping").inc()
    return jsonify(body), 200


def outcome_json(request_id, outcome, change=None) -> dict:
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
    if getattr(change, "ignored_fields", None):
        body["ignoredFields"] = change.ignored_fields
    if outcome.warnings:
        body["warnings"] = list(outcome.warnings)
    if outcome.maintenance is not None:
        body["maintenance"] = outcome.maintenance.id
    return body
