"""The REST API (SPEC §7): JSON, bearer tokens, {"items", "next"} lists, errors naming the field."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, g, jsonify, request
from sqlalchemy import or_, update
from werkzeug.exceptions import HTTPException

from alerting.errors import Conflict, FieldError, NotFound
from alerting.ids import row_id
from alerting.json_input import parse_json
from extensions import db
from models import ApiToken, utcnow

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC = {"api.openapi"}
TOKEN_USE_PRECISION = timedelta(minutes=1)


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
    note_use(token)
    return None


def note_use(token: ApiToken) -> None:
    """Keep ``last_used_at`` for the token list: one write a minute per token at most, not one per request."""
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < TOKEN_USE_PRECISION:
        return
    db.session.execute(update(ApiToken).where(
        ApiToken.id == token.id,
        or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - TOKEN_USE_PRECISION))
        .values(last_used_at=now).execution_options(synchronize_session=False))
    db.session.commit()


def field_error(exc):
    db.session.rollback()
    return error(400, "Bad Request", exc.message, field=exc.field)


def not_found(exc):
    db.session.rollback()
    return error(404, "Not Found", str(exc))


def conflict(exc):
    db.session.rollback()
    return error(409, "Conflict", str(exc))


def http_error(exc):
    return error(exc.code, exc.name, exc.description or exc.name)


def answer_errors_as_json(blueprint) -> None:
    """A user's mistakes and HTTP errors answered in SPEC §2's JSON shape (the REST API and /api/xm/1)."""
    blueprint.register_error_handler(FieldError, field_error)
    blueprint.register_error_handler(NotFound, not_found)
    blueprint.register_error_handler(Conflict, conflict)
    blueprint.register_error_handler(HTTPException, http_error)


answer_errors_as_json(bp)


def body() -> dict:
    """The JSON object of the request, or a 400/415 naming the problem."""
    if not request.is_json:
        raise FieldError("body", "send JSON with Content-Type: application/json")
    raw = request.get_data(cache=True)
    data = parse_json(raw) if raw.strip() else None
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
        if row_id(cursor) is None:
            raise FieldError("cursor", "use the `next` value of the previous page")
        query = query.filter(id_column < row_id(cursor))
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


from blueprints.api import (  # noqa: E402,F401
    alerts,
    configurations,
    flows,
    maintenance,
    oncall,
    openapi,
    people,
    webhook_messages,
)
