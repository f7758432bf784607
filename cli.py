"""The `klaxon` command: serve, web, worker, create-admin, create-token, check."""
from __future__ import annotations

import os
import secrets
import sys

import click

from config import ConfigError, ensure_secret_key, load_settings


def fail(message: str, code: int = 2):
    click.echo(f"klaxon: {message}", err=True)
    sys.exit(code)


def settings_or_exit():
    try:
        return ensure_secret_key(load_settings())
    except ConfigError as exc:
        fail(str(exc))


def check_database(settings):
    """Connect once; return None or a one-line reason naming KLAXON_DATABASE_URL."""
    from sqlalchemy import create_engine, text

    if settings.database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url, connect_args={"connect_timeout": 5}
                           if settings.database_url.startswith("postgresql") else {})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
        return f"KLAXON_DATABASE_URL: cannot connect ({reason})"
    finally:
        engine.dispose()


def check_redis(url):
    from redis import Redis

    try:
        Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
        return None
    except Exception as exc:
        return f"KLAXON_REDIS_URL: cannot connect ({type(exc).__name__}: {str(exc)[:160]})"


def upgrade_database(app):
    """Run Alembic migrations (PostgreSQL: under an advisory lock, so many starters are safe)."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from extensions import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(726173)"))
                try:
                    upgrade()
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(726173)"))
                    conn.commit()
        else:
            upgrade()


def make_app(settings):
    from app import create_app

    return create_app({"SETTINGS": settings})


@click.group()
def main():
    """Klaxon: self-hosted alerting."""


@main.command()
def serve():
    """Web server, workers, scheduler and (when KLAXON_REDIS_URL is unset) an embedded Redis."""
    from alerting.supervisor import Supervisor

    settings = settings_or_exit()
    problem = check_database(settings)
    if problem:
        fail(problem)
    if settings.redis_url:
        problem = check_redis(settings.redis_url)
        if problem:
            fail(problem)
    upgrade_database(make_app(settings))
    sys.exit(Supervisor(settings).run())


@main.command()
def web():
    """Only the web server (gunicorn); needs KLAXON_REDIS_URL."""
    from alerting.supervisor import gunicorn_args

    settings = settings_or_exit()
    if not settings.redis_url:
        fail("KLAXON_REDIS_URL: required for `klaxon web` (use `klaxon serve` for the embedded Redis)")
    for problem in (check_database(settings), check_redis(settings.redis_url)):
        if problem:
            fail(problem)
    upgrade_database(make_app(settings))
    os.environ["KLAXON_SECRET_KEY"] = settings.secret_key
    args = gunicorn_args(settings)
    os.execv(args[0], args)


@main.command()
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option("--no-sweeper", is_flag=True, help="Do not run the periodic sweeper in this worker.")
def worker(burst, no_sweeper):
    """An RQ worker (with the RQ scheduler and the sweeper); needs KLAXON_REDIS_URL."""
    from workers.runner import run_worker

    settings = settings_or_exit()
    if not settings.redis_url:
        fail("KLAXON_REDIS_URL: required for `klaxon worker` (use `klaxon serve` for the embedded Redis)")
    for problem in (check_database(settings), check_redis(settings.redis_url)):
        if problem:
            fail(problem)
    app = make_app(settings)
    upgrade_database(app)
    sys.exit(run_worker(app, burst=burst, sweeper=not no_sweeper))


@main.command("create-admin")
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--name", default="")
def create_admin(username, password, name):
    """Create (or reset the password of) an admin, without prompts."""
    from extensions import db
    from models import User

    settings = settings_or_exit()
    if len(password) < 8:
        fail("--password: at least 8 characters")
    app = make_app(settings)
    upgrade_database(app)
    with app.app_context():
        user = db.session.query(User).filter_by(username=username.strip().lower()).first()
        if user is None:
            user = User(username=username.strip().lower(), name=name)
            db.session.add(user)
        user.role = "admin"
        user.active = True
        user.set_password(password)
        db.session.commit()
    click.echo(f"admin {username} ready")


@main.command("create-token")
@click.option("--name", default="cli")
def create_token(name):
    """Create a REST API token and print only the token."""
    from extensions import db
    from models import ApiToken

    settings = settings_or_exit()
    app = make_app(settings)
    upgrade_database(app)
    token = "kx_" + secrets.token_urlsafe(32)
    with app.app_context():
        db.session.add(ApiToken(name=name, token_hash=ApiToken.hash(token)))
        db.session.commit()
    click.echo(token)


@main.command()
def check():
    """Print the effective settings (secrets masked) and whether DB and Redis answer."""
    settings = settings_or_exit()
    for name, value in settings.masked():
        click.echo(f"{name:40} {value}")
    db_problem = check_database(settings)
    click.echo(f"{'database':40} {db_problem or 'reachable'}")
    if settings.redis_url:
        redis_problem = check_redis(settings.redis_url)
        click.echo(f"{'redis':40} {redis_problem or 'reachable'}")
    else:
        redis_problem = None
        click.echo(f"{'redis':40} embedded (started by klaxon serve in {settings.data_dir})")
    sys.exit(1 if db_problem or redis_problem else 0)


def register_app_commands(app):
    """`flask --app app` gets the same admin commands (handy in development)."""
    app.cli.add_command(create_admin)
    app.cli.add_command(create_token)


if __name__ == "__main__":
    main()
