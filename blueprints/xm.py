"""The xMatters REST subset under /api/xm/1/ (SPEC §11), for scripts being migrated from xMatters.

Same tokens as /api/v1 (``Authorization: Bearer <token>``, or HTTP Basic with the token as the
password, as xMatters' own scripts send a user and password). Lists are xMatters'
``{"count", "total", "data", "links"}`` with ``offset`` and ``limit``; errors are SPEC §2's
``{"code", "reason", "message"}``, which is also xMatters' error shape.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Blueprint, g, jsonify, request
from sqlalchemy import or_

from alerting.alerts.lifecycle import InvalidTransition, annotate, change_status
from alerting.errors import Conflict, FieldError, NotFound
from alerting.ids import row_id
from blueprints.api import answer_errors_as_json, body, error, note_use
from extensions import db
from models import Alert, ApiToken, Notification, Response, TimelineEntry, User

bp = Blueprint("xm", __name__, url_prefix="/api/xm/1")
PREFIX = "/api/xm/1"
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000  # xMatters' own
# xMatters' statuses a script sets, and what each means here (TERMINATED there is ended by a person)
SETTABLE = {"TERMINATED": "TERMINATED_EXTERNAL", "SUSPENDED": "SUSPENDED", "ACTIVE": "ACTIVE"}
FILTER_STATUSES = {"ACTIVE": ("ACTIVE",), "SUSPENDED": ("SUSPENDED",),
                   "TERMINATED": ("TERMINATED", "TERMINATED_EXTERNAL"), "TERMINATED_EXTERNAL": ("TERMINATED_EXTERNAL",)}
ANNOTATION_NS = uuid.UUID("6f1c0a52-64c5-4a47-9d1e-3c1f5f0e7a10")  # stable annotation ids from row ids


def presented_token() -> str | None:
    """The token of a Bearer header, or the password of a Basic one (any user name)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


@bp.before_request
def require_token():
    token_text = presented_token()
    if not token_text:
        response = error(401, "Unauthorized", "Send Authorization: Bearer <token>, or HTTP Basic with the token "
                                              "as the password (tokens from `klaxon create-token`).")
        response.headers["WWW-Authenticate"] = 'Basic realm="klaxon"'
        return response
    digest = ApiToken.hash(token_text)
    token = db.session.query(ApiToken).filter_by(token_hash=digest).first()
    # the lookup is by hash; the comparison of what was found is constant-time all the same
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return error(401, "Unauthorized", "That API token is not valid.")
    g.api_token = token
    g.actor = token.user.username if token.user else f"token:{token.name}"
    note_use(token)
    return None


answer_errors_as_json(bp)


def timestamp(dt: datetime | None) -> str | None:
    """xMatters' form: ``2026-12-01T22:01:51.328+0000`` (UTC)."""
    if dt is None:
        return None
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}+0000"


def instant(name: str) -> datetime | None:
    """A query parameter that is an ISO 8601 instant, as naive UTC (a 400 naming it otherwise)."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError:
        raise FieldError(name, "must be an ISO 8601 date and time, e.g. 2026-12-01T09:00:00Z") from None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def paging() -> tuple[int, int]:
    """``offset`` (from 0) and ``limit`` (1..1000, default 100)."""
    values = []
    for name, default, top in (("offset", 0, 10**9), ("limit", DEFAULT_LIMIT, MAX_LIMIT)):
        raw = request.args.get(name, str(default)).strip()
        if not raw.isascii() or not raw.isdigit():
            raise FieldError(name, "must be a whole number")
        values.append(min(int(raw), top))
    return values[0], max(values[1], 1)


def listing(items: list, total: int, offset: int, limit: int) -> dict:
    """xMatters' list: ``count`` on this page, ``total`` matching, ``links.self`` and ``links.next``."""
    args = {k: v for k, v in request.args.items() if k not in ("offset", "limit")}
    links = {"self": f"{request.path}?{urlencode({**args, 'offset': offset, 'limit': limit})}"}
    if offset + len(items) < total:
        links["next"] = f"{request.path}?{urlencode({**args, 'offset': offset + limit, 'limit': limit})}"
    return {"count": len(items), "total": total, "data": items, "links": links}


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def find_event(event_id: str) -> Alert:
    """By ``eventId`` (the number) or ``id`` (the uuid), as xMatters takes either."""
    number = row_id(event_id)
    if number is None and not _is_uuid(event_id):  # e.g. a NUL byte, which PostgreSQL refuses to compare
        raise NotFound(f"Could not find an event with id {event_id!r}.")
    alert = db.session.get(Alert, number) if number is not None else \
        db.session.query(Alert).filter_by(uuid=event_id).first()
    if alert is None:
        raise NotFound(f"Could not find an event with id {event_id!r}.")
    return alert


def person(username: str | None) -> dict:
    """A PersonReference: a user's, or for a token, a flow or an integration its name alone."""
    username = username or "klaxon"
    user = db.session.query(User).filter_by(username=username).first()
    first, _, last = ((user.name or "") if user else "").strip().partition(" ")
    return {"id": username, "targetName": username, "recipientType": "PERSON",
            "firstName": first or None, "lastName": last.strip() or None,
            "links": {"self": f"{PREFIX}/people/{username}"}}


def event_ref(alert: Alert) -> dict:
    return {"id": alert.uuid, "eventId": str(alert.id), "links": {"self": f"{PREFIX}/events/{alert.uuid}"}}


def event_json(alert: Alert, embed: set[str]) -> dict:
    """An event in xMatters' names (``eventId`` a string, ``submitter`` the creator)."""
    created = db.session.query(TimelineEntry.actor).filter_by(alert_id=alert.id, type="EVENT_CREATED").first()
    data = {**event_ref(alert), "name": alert.subject, "eventType": "USER", "status": alert.status,
            "priority": alert.priority, "incident": None, "requestId": alert.request_id,
            "created": timestamp(alert.created_at), "terminated": timestamp(alert.terminated_at),
            "expirationInMinutes": _minutes(alert), "submitter": person(created[0] if created else None),
            "properties": dict(alert.properties or {})}
    if "annotations" in embed:
        notes = annotations(alert)
        data["annotations"] = {"count": len(notes), "total": len(notes), "data": notes,
                               "links": {"self": f"{PREFIX}/events/{alert.uuid}/annotations"}}
    return data


def _minutes(alert: Alert) -> int | None:
    if alert.expires_at is None or alert.created_at is None:
        return None
    return int((alert.expires_at - alert.created_at).total_seconds() // 60)


def embeds() -> set[str]:
    return {e.strip() for e in request.args.get("embed", "").split(",") if e.strip()}


def annotations(alert: Alert) -> list[dict]:
    """Comments on the alert, oldest first: annotations and the comments of responses."""
    notes = [(t.at, f"timeline:{t.id}", t.actor, (t.detail or {}).get("comment"))
             for t in db.session.query(TimelineEntry).filter_by(alert_id=alert.id, type="EVENT_ANNOTATED")
             .order_by(TimelineEntry.id)]
    notes += [(r.created_at, f"response:{r.id}", r.recipient, r.comment)
              for r in db.session.query(Response).filter(Response.alert_id == alert.id, Response.comment.isnot(None))
              .order_by(Response.id)]
    return [annotation_json(alert, key, author, comment, at)
            for at, key, author, comment in sorted(notes, key=lambda n: (n[0], n[1])) if comment]


def annotation_json(alert: Alert, key: str, author: str | None, comment: str, at: datetime) -> dict:
    return {"id": str(uuid.uuid5(ANNOTATION_NS, f"{alert.uuid}:{key}")), "event": event_ref(alert),
            "author": person(author), "comment": comment, "created": timestamp(at)}


@bp.get("/events")
def list_events():
    """Events newest first; filters status, priority, requestId, propertyName + propertyValue, from, to."""
    query = db.session.query(Alert)
    if request.args.get("status"):
        wanted = [s.strip().upper() for s in request.args["status"].split(",") if s.strip()]
        if any(s not in FILTER_STATUSES for s in wanted):
            raise FieldError("status", "must be one or more of ACTIVE, SUSPENDED, TERMINATED")
        query = query.filter(Alert.status.in_([s for w in wanted for s in FILTER_STATUSES[w]]))
    if request.args.get("priority"):
        wanted = [p.strip().upper() for p in request.args["priority"].split(",") if p.strip()]
        if any(p not in ("HIGH", "MEDIUM", "LOW") for p in wanted):
            raise FieldError("priority", "must be one or more of HIGH, MEDIUM, LOW")
        query = query.filter(Alert.priority.in_(wanted))
    if request.args.get("requestId"):
        query = query.filter(Alert.request_id == request.args["requestId"])
    query = _by_property(query)
    since, until = instant("from"), instant("to")
    if since:
        query = query.filter(Alert.created_at >= since)
    if until:
        query = query.filter(Alert.created_at <= until)
    offset, limit = paging()
    total = query.count()
    rows = query.order_by(Alert.id.desc()).offset(offset).limit(limit).all()
    embed = embeds()
    return jsonify(listing([event_json(a, embed) for a in rows], total, offset, limit))


def _by_property(query):
    name, value = request.args.get("propertyName"), request.args.get("propertyValue")
    if not name and not value:
        return query
    if not name or value is None:
        raise FieldError("propertyName" if not name else "propertyValue", "propertyName and propertyValue go together")
    names = {name, name.split("#", 1)[0]}  # xMatters names properties with a language tag: Host#en
    return query.filter(or_(*[Alert.properties[n].as_string() == value for n in names]))


@bp.get("/events/<event_id>")
def get_event(event_id):
    """One event, by eventId or id; ``embed=annotations`` adds its annotations (properties are always there)."""
    return jsonify(event_json(find_event(event_id), embeds()))


@bp.post("/events")
def change_event_status():
    """Change an event's status: ``{"id", "status": "TERMINATED" | "SUSPENDED" | "ACTIVE"}``."""
    data = body()
    if data.get("id") in (None, ""):
        raise FieldError("id", "is required: the event's id or eventId (to trigger an event, POST to the "
                               "integration URL of a configuration)")
    status = data.get("status")
    if not isinstance(status, str) or status.upper() not in SETTABLE:
        raise FieldError("status", "must be one of TERMINATED, SUSPENDED, ACTIVE")
    alert = find_event(str(data["id"]))
    try:
        change_status(alert, SETTABLE[status.upper()], actor=g.actor, reason="xMatters REST API")
    except InvalidTransition as exc:
        raise Conflict(str(exc)) from None
    db.session.commit()
    return jsonify(event_json(alert, set())), 202


@bp.get("/events/<event_id>/annotations")
def list_annotations(event_id):
    """The event's annotations (comments), oldest first."""
    notes = annotations(find_event(event_id))
    offset, limit = paging()
    return jsonify(listing(notes[offset:offset + limit], len(notes), offset, limit))


@bp.post("/events/<event_id>/annotations")
def add_annotation(event_id):
    """Add an annotation: ``{"comment"}`` (an ``author`` given is ignored: it is the token's)."""
    data = body()
    comment = data.get("comment")
    if not isinstance(comment, str) or not comment.strip():
        raise FieldError("comment", "is required")
    if len(comment) > 5000:
        raise FieldError("comment", "must be at most 5000 characters")
    alert = find_event(event_id)
    entry = annotate(alert, comment.strip(), actor=g.actor)
    db.session.flush()
    note = annotation_json(alert, f"timeline:{entry.id}", entry.actor, comment.strip(), entry.at)
    db.session.commit()
    return jsonify(note), 201


@bp.get("/events/<event_id>/user-deliveries")
def user_deliveries(event_id):
    """Per notified user: ``deliveryStatus`` RESPONDED, DELIVERED, FAILED or NOT_DELIVERED, and the response."""
    alert = find_event(event_id)
    notes = db.session.query(Notification).filter_by(alert_id=alert.id).order_by(Notification.id).all()
    answers = {r.recipient: r for r in db.session.query(Response).filter_by(alert_id=alert.id)
               .order_by(Response.id)}  # the newest response of each user wins
    by_user: dict[str, list[Notification]] = {}
    for note in notes:
        by_user.setdefault(note.recipient, []).append(note)
    rows = [delivery_json(alert, username, user_notes, answers.get(username))
            for username, user_notes in by_user.items()]
    wanted = request.args.get("deliveryStatus")
    if wanted:
        rows = [r for r in rows if r["deliveryStatus"] in {w.strip().upper() for w in wanted.split(",")}]
    offset, limit = paging()
    return jsonify(listing(rows[offset:offset + limit], len(rows), offset, limit))


def delivery_json(alert: Alert, username: str, notes: list[Notification], answer: Response | None) -> dict:
    statuses = {n.status for n in notes}
    status = "RESPONDED" if answer else "DELIVERED" if "Delivered" in statuses \
        else "FAILED" if statuses == {"Failed"} else "NOT_DELIVERED"
    data = {"event": event_ref(alert), "person": person(username), "deliveryStatus": status,
            "at": timestamp(max((n.delivered_at or n.created_at for n in notes), default=None))}
    if answer:
        by_device = next((n for n in notes if n.id == answer.notification_id), None)
        data["response"] = {"text": answer.response, "comment": answer.comment,
                            "notification": {"id": str(by_device.id), "deviceName": by_device.device_name}
                            if by_device else None,
                            "received": timestamp(answer.created_at)}
    return data
