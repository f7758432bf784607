"""Klaxon's application factory. Importing this module has no side effects."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, jsonify
from sqlalchemy.exc import InterfaceError, OperationalError, PendingRollbackError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from alerting import wiring
from blueprints import BLUEPRINTS
from cli import register_app_commands
from config import ensure_secret_key, load_settings
from extensions import csrf, db, login_manager
from runtime import idle_ping, logsafe, queue, sqlite

HERE = Path(__file__).resolve().parent
VERSION = "0.1.0"
log = logging.getLogger("klaxon.app")
# A database that is away (refused, cut, locked, pool exhausted): SPEC §2's 503, never a 500.
DATABASE_AWAY = (OperationalError, InterfaceError, PendingRollbackError, PoolTimeoutError)


def create_app(overrides: dict | None = None) -> Flask:
    """Build the Flask app. ``overrides`` may hold ``SETTINGS`` (a config.Settings) and Flask keys."""
    overrides = dict(overrides or {})
    settings = overrides.pop("SETTINGS", None) or load_settings()
    settings = ensure_secret_key(settings)
    app = Flask(__name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings.database_url, settings.db_lock_timeout_seconds),
        MAX_CONTENT_LENGTH=max(settings.max_payload_bytes, 1024 * 1024),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,
        KLAXON=settings,
        KLAXON_VERSION=VERSION,
    )
    app.config.update(overrides)
    app.json.sort_keys = False  # alert properties keep the order they were received in
    logsafe.configure(settings.log_level)  # every record one line: control characters escaped

    db.init_app(app)
    app.teardown_appcontext(end_session)  # runs before Flask-SQLAlchemy's own (teardowns run last first)
    wire_database(app)
    wiring.wire()
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    register_blueprints(app)
    for error in DATABASE_AWAY:
        app.register_error_handler(error, database_unavailable)
    app.after_request(security_headers)
    register_app_commands(app)
    return app


def wire_database(app: Flask) -> None:
    """The app's own engines and session get Klaxon's listeners (idempotent; nothing is hooked at import).

    SQLite engines: WAL, busy timeout, BEGIN IMMEDIATE, one writer per process. The session:
    jobs are queued after commit and dropped after rollback.
    """
    with app.app_context():
        for engine in db.engines.values():
            sqlite.configure(engine, app.config["KLAXON"].db_lock_timeout_seconds)
            idle_ping.configure(engine)  # instead of pool_pre_ping's ping at every checkout
    queue.listen(db.session)


def register_blueprints(app):
    for blueprint, exempt in BLUEPRINTS():
        if exempt:
            csrf.exempt(blueprint)
        app.register_blueprint(blueprint)


def end_session(_exc=None) -> None:
    """End the request's session whatever became of its connection.

    Closing the session rolls back, and a database cut since the view's last query (PostgreSQL
    shut, the backend terminated) fails that ROLLBACK. In Flask-SQLAlchemy's own teardown the
    OperationalError left Flask after the view's answer had started, so the server closed the
    connection with no answer at all (SPEC §2: a success or a 503, never nothing). Whatever the
    view committed stays committed; the rollback had nothing else to undo.
    """
    lost = discard_session()
    if lost:
        log.warning("database connection lost as a request ended: %s", lost)


def discard_session() -> str | None:
    """Close the session; if closing failed, the name of the error (the connection is dead)."""
    try:
        db.session.remove()
        return None
    except SQLAlchemyError as exc:
        try:
            db.session.remove()  # the failed rollback invalidated the connection: this close releases it
        except SQLAlchemyError:
            db.session.registry.clear()
        return type(exc).__name__


def database_unavailable(exc):
    """Any route meeting an unavailable database: discard the session (its connection may be dead) and 503."""
    discard_session()
    log.error("database unavailable: %s", type(exc).__name__)
    response = jsonify(code=503, reason="Service Unavailable", message="The database is unavailable; retry shortly.")
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return response


def security_headers(response):
    """Headers every page gets; the dashboard adds its Content-Security-Policy itself."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def engine_options(url: str, wait: float = 5.0) -> dict:
    """Engine options; ``wait`` bounds how long a request waits for the database before its 503."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": wait, "check_same_thread": False}}
    options = {"pool_size": 10, "max_overflow": 10, "pool_recycle": 1800, "pool_timeout": wait}
    if url.startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": max(1, round(wait))}
    return options
