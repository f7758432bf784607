"""What a web or RQ worker imports stays small: the libraries only some commands need load there.

Alembic and Flask-Migrate (with Mako and Pygments, which Alembic imports) are for the commands
that migrate (cli.init_migrate, and database_at_head reads the migration files itself); Apprise
is imported when an Apprise URL is checked or notified. Each of them cost every process Klaxon
starts 30-150 ms of CPU at import.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import cli

ROOT = Path(__file__).resolve().parent.parent
LAZY = ("alembic", "flask_migrate", "mako", "pygments", "apprise")
REPORT = f"import sys; print(','.join(m for m in {LAZY!r} if m in sys.modules) or 'none')"


def imported(code: str, env: dict | None = None) -> str:
    """Run ``code`` in a fresh interpreter; which of LAZY it left in sys.modules ('none' if none)."""
    result = subprocess.run([sys.executable, "-c", f"{code}\n{REPORT}"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("module", ["app", "runtime.worker", "cli"])
def test_importing_leaves_out_the_lazy_libraries(module):
    assert imported(f"import {module}") == "none"


def klaxon_env(settings) -> dict:
    return {"KLAXON_DATA_DIR": str(settings.data_dir), "KLAXON_DATABASE_URL": settings.database_url,
            "KLAXON_REDIS_URL": settings.redis_url}


def test_a_web_worker_building_the_app_leaves_them_out(settings):
    assert imported("import runtime.front\nruntime.front.application()", klaxon_env(settings)) == "none"


def test_a_worker_starting_on_a_database_at_head_loads_only_apprise(settings):
    """What `klaxon worker` does before its first job: build the app, skip the migration, load the
    jobs, and apprise with them (runtime.worker.preload_jobs: the first alert is sent as fast as the rest)."""
    code = ("import cli, runtime.worker\n"
            "settings = cli.settings_or_exit()\n"
            "assert cli.database_at_head(settings)\n"
            "cli.migrate(settings, cli.make_app(settings))\n"
            "runtime.worker.preload_jobs()")
    assert imported(code, klaxon_env(settings)) == "apprise"


def alembic_heads(script_location: Path) -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory(str(script_location)).get_heads())


def test_migration_heads_are_alembics():
    assert cli.migration_heads() == alembic_heads(cli.MIGRATIONS)
    assert cli.migration_heads()  # not the fallback


def write_versions(tmp_path: Path, revisions: dict[str, str]) -> Path:
    versions = tmp_path / "versions"
    versions.mkdir()
    for name, header in revisions.items():
        (versions / f"{name}.py").write_text(f'"""{name}"""\n{header}\n\ndef upgrade():\n    pass\n')
    return versions


def test_migration_heads_of_branches_and_merges_are_alembics(tmp_path):
    simple = "revision = {!r}\ndown_revision = {!r}\nbranch_labels = None\ndepends_on = None"
    versions = write_versions(tmp_path, {"a": simple.format("a", None), "b": simple.format("b", "a"),
                                         "c": simple.format("c", "a")})
    assert cli.migration_heads(versions) == alembic_heads(tmp_path) == {"b", "c"}
    (versions / "d.py").write_text(simple.format("d", ("b", "c")) + "\n")
    assert cli.migration_heads(versions) == alembic_heads(tmp_path) == {"d"}


@pytest.mark.parametrize("header", [
    "revision = 'b'\ndown_revision = (\n    'a',\n)",  # not a one-line literal
    "revision = 'b'\ndown_revision = 'a'\nbranch_labels = ('feature',)",
    "revision = 'b'\ndown_revision = 'a'\ndepends_on = 'x'",
    "down_revision = 'a'",  # no revision
    "revision = 'b'\ndown_revision = 'gone'",  # names a revision that is not there
    "revision = REVISION\ndown_revision = 'a'",
])
def test_migration_heads_leave_anything_unusual_to_alembic(tmp_path, header):
    versions = write_versions(tmp_path, {"a": "revision = 'a'\ndown_revision = None", "b": header})
    assert cli.migration_heads(versions) is None


@pytest.mark.parametrize("with_alembic", [False, True])
def test_database_at_head_says_when_a_migration_is_due(settings, tmp_path, monkeypatch, with_alembic):
    if with_alembic:
        monkeypatch.setattr(cli, "migration_heads", lambda: None)
    [head] = alembic_heads(cli.MIGRATIONS)
    assert cli.database_at_head(settings)
    engine = create_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        assert not cli.database_at_head(settings)
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        engine.dispose()
    assert cli.database_at_head(settings)
    empty = tmp_path / "empty.db"
    create_engine(f"sqlite:///{empty}").connect().close()  # a database without Klaxon's schema
    assert empty.exists()
    assert not cli.database_at_head(replace(settings, database_url=f"sqlite:///{empty}"))


def test_flask_db_commands_still_work(settings):
    """`flask --app app db …` is Flask-Migrate's group, wired in when it is run."""
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "current"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, env={**os.environ, **klaxon_env(settings)})
    assert result.returncode == 0, result.stderr
    [head] = cli.migration_heads()
    assert result.stdout.strip() == f"{head} (head)"
    assert "setup plugin" not in result.stderr  # Alembic's import-time INFO lines stay quiet, as before
