"""Health, readiness and metrics (SPEC §8)."""
from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

from extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = {"database": "ok", "redis": "ok"}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        from alerting.queue import redis_conn

        redis_conn().ping()
    except Exception as exc:
        checks["redis"] = f"unreachable: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ok else "unavailable", checks=checks), 200 if ok else 503


@bp.get("/metrics")
def metrics():
    from alerting.metrics import render_metrics

    body, content_type = render_metrics(current_app._get_current_object())
    return Response(body, content_type=content_type)
