"""Health, readiness and metrics (SPEC §8). /metrics needs a bearer token (docs/design.md)."""
import hmac

from flask import Blueprint, Response, current_app, jsonify, request
from redis import Redis
from sqlalchemy import text

from extensions import db
from models import ApiToken
from runtime import sqlite

bp = Blueprint("health", __name__)
READY_WAIT = 1.0  # seconds each readiness check may take: /readyz answers at once, even when stuck


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready when the database takes a write and Redis answers; each check gives up within ~1 s."""
    checks = {"database": database_check(), "redis": redis_check(current_app.config["KLAXON"].redis_url)}
    ok = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ok else "unavailable", checks=checks), 200 if ok else 503


def database_check() -> str:
    """Return "ok" or why not: SQLite must grant its write lock within READY_WAIT (a held lock is not ready)."""
    try:
        if db.engine.dialect.name == "sqlite":
            sqlite.probe_writable(db.engine, READY_WAIT)
        else:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"


def redis_check(url: str | None) -> str:
    if not url:
        return "unreachable: KLAXON_REDIS_URL is not set"
    conn = Redis.from_url(url, socket_timeout=READY_WAIT, socket_connect_timeout=READY_WAIT)
    try:
        conn.ping()
        return "ok"
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"
    finally:
        conn.close()


@bp.get("/metrics")
def metrics():
    """Prometheus text, for a bearer token: KLAXON_METRICS_TOKEN or a REST API token."""
    from runtime.metrics import render_metrics

    if not metrics_token_presented():
        response = jsonify(code=401, reason="Unauthorized", message=(
            "Send Authorization: Bearer <token>: the KLAXON_METRICS_TOKEN setting or a REST API token "
            "(in Prometheus: authorization: credentials_file)."))
        response.headers["WWW-Authenticate"] = 'Bearer realm="klaxon metrics"'
        return response, 401
    db.session.rollback()  # the token lookup's transaction holds SQLite's lock; the collector reads in its own
    body, content_type = render_metrics(current_app._get_current_object())
    return Response(body, content_type=content_type)


def metrics_token_presented() -> bool:
    """Whether the request carries KLAXON_METRICS_TOKEN (compared in constant time) or an API token."""
    header = request.headers.get("Authorization", "")
    presented = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if not presented:
        return False
    configured = current_app.config["KLAXON"].metrics_token
    if configured and hmac.compare_digest(presented.encode(), configured.encode()):
        return True
    return db.session.query(ApiToken.id).filter_by(token_hash=ApiToken.hash(presented)).first() is not None
