"""The `klaxon` command: serve, web, worker, create-admin, create-token, check."""
from __future__ import annotations

import ast
import logging
import os
import re
import secrets
import stat
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from config import ConfigError, ensure_secret_key, load_settings
from runtime import logsafe


def fail(message: str, code: int = 2):
    click.echo(f"klaxon: {message}", err=True)
    sys.exit(code)


def settings_or_exit():
    try:
        settings = load_settings()
    except ConfigError as exc:
        fail(str(exc))
    make_private(settings.data_dir)
    try:
        return ensure_secret_key(settings)
    except ConfigError as exc:
        fail(str(exc))


def make_private(data_dir: Path) -> None:
    """The data dir 0700 and everything in it 0600 (directories 0700): it holds keys and secrets.

    New files are private by the umask ``main`` sets; this puts right what an older Klaxon, or a
    restore, left readable. A path we may not change is reported, not fatal.
    """
    if not data_dir.is_dir():
        return
    for root, _dirs, files in os.walk(data_dir):
        for path, mode in [(root, 0o700)] + [(os.path.join(root, f), 0o600) for f in files]:
            try:
                info = os.lstat(path)
                regular = stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)  # not links, not sockets
                if regular and stat.S_IMODE(info.st_mode) != mode:
                    os.chmod(path, mode)
            except OSError as exc:
                click.echo(f"klaxon: cannot make {path} private ({exc.strerror})", err=True)


def check_database(settings, make_dir=True):
    """Connect once; return None or a one-line reason naming KLAXON_DATABASE_URL."""
    from sqlalchemy import create_engine, text

    path = sqlite_path(settings)
    if path is not None and not make_dir and not path.exists():
        return None  # connecting would create the file: existing_database_or_exit says what is missing
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


def sqlite_path(settings) -> Path | None:
    """The SQLite file of KLAXON_DATABASE_URL, or None for PostgreSQL (or an in-memory database)."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def shown_database(settings) -> str:
    """The database URL as a person should see it: a SQLite path whole, a password masked."""
    from config import mask

    return settings.database_url if sqlite_path(settings) else mask(settings.database_url)


def database_is_new(settings) -> bool:
    """True when KLAXON_DATABASE_URL holds no Klaxon schema yet (a SQLite file that is missing counts)."""
    from sqlalchemy import create_engine, inspect

    path = sqlite_path(settings)
    if path is not None and not path.exists():
        return True
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return not inspect(conn).has_table("alembic_version")
    finally:
        engine.dispose()


def say_where(settings, as_record: bool = False) -> None:
    """One line on stderr naming the data dir and database a command uses (stdout stays the result).

    Long-running commands (serve, web, worker) say it as a log record, so their log stays one
    record per line."""
    where = f"data dir {settings.data_dir}; database {shown_database(settings)}"
    if as_record:
        logsafe.configure(settings.log_level)
        logging.getLogger("klaxon.cli").info(where)
    else:
        click.echo(f"klaxon: {where}", err=True)


def existing_database_or_exit(settings, create: bool) -> None:
    """Refuse to make a fresh database unless asked: a wrong KLAXON_DATA_DIR should say so, not
    quietly start an empty Klaxon whose tokens and admins the real server never sees."""
    problem = check_database(settings, make_dir=create)
    if problem:
        fail(problem)
    if not database_is_new(settings):
        return
    if not create:
        fail(f"no Klaxon database at {shown_database(settings)}: is KLAXON_DATA_DIR (or KLAXON_DATABASE_URL) "
             "the server's? Add --create (or set KLAXON_CREATE_DATABASE=1) to make a new one there")
    click.echo(f"klaxon: creating a new database at {shown_database(settings)}", err=True)


CREATE_OPTION = click.option("--create", is_flag=True, envvar="KLAXON_CREATE_DATABASE",
                             help="Make a new database if there is none (else the command refuses).")


def check_redis(url):
    from redis import Redis

    try:
        Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
        return None
    except Exception as exc:
        return f"KLAXON_REDIS_URL: cannot connect ({type(exc).__name__}: {str(exc)[:160]})"


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@contextmanager
def quiet_alembic_import():
    """Alembic logs a "setup plugin" line per plugin (INFO) when it is first imported. It used to be
    imported with the app, mostly before Klaxon's logging was set up, so they seldom showed; now it
    is imported where it is used, after that, and they would show in every migrating command."""
    plugins = logging.getLogger("alembic.runtime.plugins")
    level = plugins.level
    plugins.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        plugins.setLevel(level)


def init_migrate(app) -> None:
    """Wire Flask-Migrate into ``app`` (idempotent). Only what migrates calls this: Flask-Migrate
    imports Alembic, Mako and Pygments (~0.15 s of CPU), which a web or RQ worker never needs."""
    with quiet_alembic_import():
        from flask_migrate import Migrate

    from extensions import db

    if "migrate" not in app.extensions:
        Migrate(app, db, directory=str(MIGRATIONS))


class MigrationCommands(click.Command):
    """`flask --app app db …`: Flask-Migrate's command group, imported only when it is run.

    Listing the app's commands shows this one's help; running it hands the arguments to the real
    group (after init_migrate, which also puts that group in this one's place)."""

    def __init__(self) -> None:
        super().__init__("db", help="Perform database migrations.")

    def make_context(self, info_name, args, parent=None, **extra):
        from flask import current_app, has_app_context
        from flask.cli import ScriptInfo

        if has_app_context():  # `flask … db` pushes one; a test runner may not
            app = current_app
        else:
            app = (parent.ensure_object(ScriptInfo) if parent else ScriptInfo()).load_app()
        init_migrate(app)  # imports Alembic first, quietly
        from flask_migrate.cli import db as migrate_group

        return migrate_group.make_context(info_name, args, parent=parent, **extra)


def upgrade_database(app):
    """Run Alembic migrations (PostgreSQL: under an advisory lock, so many starters are safe)."""
    from sqlalchemy import text

    from extensions import db

    init_migrate(app)  # imports Alembic first, quietly
    from flask_migrate import upgrade

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


REVISION_LINE = re.compile(r"(revision|down_revision|branch_labels|depends_on)\s*(?::[^=]*)?=\s*(.*?)\s*(?:#.*)?")


def migration_heads(versions: Path = MIGRATIONS / "versions") -> set[str] | None:
    """The newest revision(s) in ``versions``, read from each file's one-line literal ``revision``
    and ``down_revision`` without importing Alembic (~0.13 s of CPU in every `klaxon worker` and
    admin command) nor parsing the files (~40 ms). None when a file is not that simple (no
    revision, a value that is not a one-line literal, branch labels, dependencies):
    database_at_head then asks Alembic."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        if path.name == "__init__.py" or path.name.startswith(".#"):  # what Alembic skips too
            continue
        fields = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            match = REVISION_LINE.fullmatch(line)
            if match:
                try:
                    value = ast.literal_eval(match[2])
                except (ValueError, SyntaxError):
                    return None
                if match[1] in fields:
                    return None
                fields[match[1]] = value
        revision, down = fields.get("revision"), fields.get("down_revision")
        down = (down,) if isinstance(down, str) else () if down is None else down
        if (not isinstance(revision, str) or revision in revisions or fields.get("branch_labels")
                or fields.get("depends_on") or not isinstance(down, (tuple, list))
                or not all(isinstance(d, str) for d in down)):
            return None
        revisions.add(revision)
        downs.update(down)
    if not revisions or not downs <= revisions:
        return None
    return revisions - downs


def database_at_head(settings) -> bool:
    """True when the database already has the newest migration: nothing to upgrade. Asking costs
    reading the migration files and one query, not the app (~1.3 s of CPU) nor Alembic, so
    `klaxon serve` starts its children sooner; a database that is behind, ahead or unknown goes
    through upgrade_database."""
    from sqlalchemy import create_engine, inspect, text

    path = sqlite_path(settings)
    if path is not None and not path.exists():
        return False
    heads = migration_heads()
    if heads is None:
        with quiet_alembic_import():
            from alembic.script import ScriptDirectory
        heads = set(ScriptDirectory(str(MIGRATIONS)).get_heads())
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):  # what Alembic's get_current_heads checks
                return False
            return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars()) == heads
    finally:
        engine.dispose()


def migrate(settings, app=None) -> None:
    """upgrade_database unless the database is at head already (the app is built only if needed)."""
    if not database_at_head(settings):
        upgrade_database(app or make_app(settings))


def make_app(settings):
    from app import create_app

    return create_app({"SETTINGS": settings})


@click.group()
def main():
    """Klaxon: self-hosted alerting."""
    os.umask(0o077)  # what Klaxon, its web server, workers and Redis create is the owner's alone


@main.command()
def serve():
    """Web server, workers, scheduler and (when KLAXON_REDIS_URL is unset) an embedded Redis."""
    from runtime.supervisor import Supervisor

    settings = settings_or_exit()
    problem = check_database(settings)
    if problem:
        fail(problem)
    if settings.redis_url:
        problem = check_redis(settings.redis_url)
        if problem:
            fail(problem)
    say_where(settings, as_record=True)
    migrate(settings)  # at head: the app is not built here, so the children start sooner
    sys.exit(Supervisor(settings).run())


@main.command()
def web():
    """Only the web server (gunicorn); needs KLAXON_REDIS_URL."""
    from runtime.supervisor import gunicorn_args

    settings = settings_or_exit()
    if not settings.redis_url:
        fail("KLAXON_REDIS_URL: required for `klaxon web` (use `klaxon serve` for the embedded Redis)")
    for problem in (check_database(settings), check_redis(settings.redis_url)):
        if problem:
            fail(problem)
    say_where(settings, as_record=True)
    migrate(settings)
    os.environ["KLAXON_SECRET_KEY"] = settings.secret_key
    args = gunicorn_args(settings)
    os.execv(args[0], args)


@main.command()
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option("--no-sweeper", is_flag=True, help="Do not run the periodic sweeper in this worker.")
def worker(burst, no_sweeper):
    """An RQ worker (with the RQ scheduler and the sweeper); needs KLAXON_REDIS_URL."""
    from runtime.worker import run_worker

    settings = settings_or_exit()
    say_where(settings, as_record=True)
    if not settings.redis_url:
        fail("KLAXON_REDIS_URL: required for `klaxon worker` (use `klaxon serve` for the embedded Redis)")
    problem = check_database(settings)
    if problem:
        fail(problem)
    problem = check_redis(settings.redis_url)
    if problem and burst:
        fail(problem)
    if problem:  # a worker outlives Redis: it waits for it, and the sweeper runs meanwhile
        click.echo(f"klaxon: {problem}; waiting for it (alerts are kept in the database)", err=True)
    app = make_app(settings)
    migrate(settings, app)
    sys.exit(run_worker(app, burst=burst, sweeper=not no_sweeper))


@main.command("create-admin")
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--name", default="")
@CREATE_OPTION
def create_admin(username, password, name, create):
    """Create (or reset the password of) an admin, without prompts."""
    from extensions import db
    from models import User

    settings = settings_or_exit()
    if len(password) < 8:
        fail("--password: at least 8 characters")
    existing_database_or_exit(settings, create)
    say_where(settings)
    app = make_app(settings)
    migrate(settings, app)
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
@CREATE_OPTION
def create_token(name, create):
    """Create a REST API token and print only the token (the data dir and database go to stderr)."""
    from extensions import db
    from models import ApiToken

    settings = settings_or_exit()
    existing_database_or_exit(settings, create)
    say_where(settings)
    app = make_app(settings)
    migrate(settings, app)
    token = "kx_" + secrets.token_urlsafe(32)
    with app.app_context():
        db.session.add(ApiToken(name=name, token_hash=ApiToken.hash(token)))
        db.session.commit()
    click.echo(token)


def plain(value) -> str:
    """A setting as a person reads it: lists joined by commas, nothing as "(not set)"."""
    if value is None or value == "":
        return "(not set)"
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value)


def check_rows(settings) -> list[tuple[str, str]]:
    """The documented settings (KLAXON_BIND, not host and port apart), secrets masked, values plain."""
    rows = []
    for name, value in settings.masked():
        if name == "KLAXON_BIND_PORT":
            continue
        if name == "KLAXON_BIND_HOST":
            name, value = "KLAXON_BIND", settings.bind
        elif name == "KLAXON_DATABASE_URL":
            value = shown_database(settings)
        rows.append((name, plain(value)))
    return rows


def embedded_redis_state(settings) -> tuple[str, bool]:
    """What `check` says of the embedded Redis (when KLAXON_REDIS_URL is unset), and whether it answers."""
    from runtime.embedded_redis import socket_path

    sock = socket_path(settings.data_dir)
    if not sock.exists() or check_redis(f"unix://{sock}"):
        return "embedded Redis: not running (klaxon serve starts it)", False
    return f"embedded Redis: running, answers on unix://{sock}", True


@main.command()
def check():
    """Print the effective settings (secrets masked) and whether the database and Redis answer."""
    settings = settings_or_exit()
    for name, value in check_rows(settings):
        click.echo(f"{name:40} {value}")
    path = sqlite_path(settings)
    if path is not None and not path.exists():
        db_problem = f"no database at {path} yet (klaxon serve makes it)"
    else:
        db_problem = check_database(settings, make_dir=False)
        if not db_problem and database_is_new(settings):
            db_problem = f"reachable, but holds no Klaxon schema yet ({shown_database(settings)})"
    click.echo(f"{'database':40} {db_problem or 'reachable (connected and ran SELECT 1)'}")
    if settings.redis_url:
        redis_problem = check_redis(settings.redis_url)
        click.echo(f"{'redis':40} {redis_problem or 'reachable (answered PING)'}")
    else:
        state, _running = embedded_redis_state(settings)
        redis_problem = None  # not running is normal when no server runs; serve starts it
        click.echo(f"{'redis':40} {state}")
    sys.exit(1 if db_problem or redis_problem else 0)


def register_app_commands(app):
    """`flask --app app` gets the same admin commands (handy in development), and Flask-Migrate's."""
    app.cli.add_command(create_admin)
    app.cli.add_command(create_token)
    app.cli.add_command(MigrationCommands())


if __name__ == "__main__":
    main()
