"""The REST API (SPEC §7): JSON, bearer tokens, {"items", "next"} lists, errors naming the field."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import HTTPException

from alerting.errors import Conflict, FieldError, NotFound
from extensions import db
from models import ApiToken, utcnow

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC = {"api.openapi"}


def error(code: int, reason: str, message: str, **extra):
    response = jsonify({"code": code, "reason": reason, "message": message, **extra})
    response.status_code = code
    return response


@bp.before_request
def require_token():
    if request.endpoint in PUBLIC:
        return None
    header = request.headers.get("Authorization", "")
    if header[:7].lower() != "bearer " or not header[7:].strip():
        return error(401, "Unauthorized", "Send Authorization: Bearer <token> (from `klaxon create-token`).")
    token = db.session.query(ApiToken).filter_by(token_hash=ApiToken.hash(header[7:].strip())).first()
    if token is None:
        return error(401, "Unauthorized", "That API token is not valid.")
    g.api_token = token
    g.actor = token.user.username if token.user else f"token:{token.name}"
    return None


@bp.errorhandler(FieldError)
def field_error(exc):
    db.session.rollback()
    return error(400, "Bad Request", exc.message, field=exc.field)


@bp.errorhandler(NotFound)
def not_found(exc):
    db.session.rollback()
    return error(404, "Not Found", str(exc))


@bp.errorhandler(Conflict)
def conflict(exc):
    db.session.rollback()
    return error(409, "Conflict", str(exc))


@bp.errorhandler(HTTPException)
def http_error(exc):
    return error(exc.code, exc.name, exc.description or exc.name)


def body() -> dict:
    """The JSON object of the request, or a 400/415 naming the problem."""
    if not request.is_json:
        raise FieldError("body", "send JSON with Content-Type: application/json")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise FieldError("body", "must be a JSON object")
    return data


def page(query, id_column, to_json, default_limit=50):
    """Newest first, ``?limit=`` (1-500) and ``?cursor=`` (the ``next`` of the previous page)."""
    try:
        limit = min(max(int(request.args.get("limit", default_limit)), 1), 500)
    except ValueError:
        raise FieldError("limit", "must be a whole number") from None
    cursor = request.args.get("cursor")
    if cursor:
        if not cursor.isdigit():
            raise FieldError("cursor", "use the `next` value of the previous page")
        query = query.filter(id_column < int(cursor))
    rows = query.order_by(id_column.desc()).limit(limit + 1).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return jsonify({"items": [to_json(r) for r in rows], "next": str(rows[-1].id) if more and rows else None})


def by_status(query, column, allowed: tuple[str, ...], case):
    """``query`` narrowed to ``?status=a,b``: each value, put in ``case`` (``str.upper``), one of ``allowed``."""
    raw = request.args.get("status")
    if not raw:
        return query
    wanted = [case(s.strip()) for s in raw.split(",")]
    if any(s not in allowed for s in wanted):
        raise FieldError("status", "must be one or more of " + ", ".join(allowed))
    return query.filter(column.in_(wanted))


def actor() -> str | None:
    return getattr(g, "actor", None)


def touch_token():
    token = getattr(g, "api_token", None)
    if token is not None:
        token.last_used_at = utcnow()


from blueprints.api import alerts, configurations, flows, openapi, people, webhook_messages  # noqa: E402,F401
