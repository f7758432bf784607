"""Klaxon's application factory. Importing this module has no side effects."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import ensure_secret_key, load_settings
from extensions import csrf, db, login_manager, migrate

HERE = Path(__file__).resolve().parent
VERSION = "0.1.0"


def create_app(overrides: dict | None = None) -> Flask:
    """Build the Flask app. ``overrides`` may hold ``SETTINGS`` (a config.Settings) and Flask keys."""
    overrides = dict(overrides or {})
    settings = overrides.pop("SETTINGS", None) or load_settings()
    settings = ensure_secret_key(settings)
    app = Flask(__name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings.database_url),
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
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    migrate.init_app(app, db, directory=str(HERE / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    register_blueprints(app)
    app.after_request(security_headers)
    from cli import register_app_commands

    register_app_commands(app)
    return app


def register_blueprints(app):
    from blueprints import BLUEPRINTS

    for blueprint, exempt in BLUEPRINTS():
        if exempt:
            csrf.exempt(blueprint)
        app.register_blueprint(blueprint)


def security_headers(response):
    """Headers every page gets; the dashboard adds its Content-Security-Policy itself."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10, "pool_recycle": 1800}


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """WAL and a busy timeout: web processes and workers write to one SQLite file at once."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# One SQLite writer per process at a time: threads queue on this lock instead of on SQLite's
# busy handler, whose sleeps grow to 100 ms and make the tail latency of every writer long.
_SQLITE_WRITER = threading.RLock()


@event.listens_for(Engine, "begin")
def _sqlite_begin_immediate(conn):
    """Take SQLite's write lock at BEGIN, so a read-then-write transaction never dead-ends in 'database is locked'."""
    if conn.dialect.name == "sqlite":
        conn.info["klaxon_writer"] = _SQLITE_WRITER.acquire(timeout=30)
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _sqlite_end(conn):
    if conn.info.pop("klaxon_writer", False):
        _SQLITE_WRITER.release()
