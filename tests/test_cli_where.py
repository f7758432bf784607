"""The admin commands say which data dir and database they use, refuse to make a fresh database
unless asked, and `klaxon check` prints the documented settings plainly and tests what it claims
(issue 19, items 1 and 2)."""
import os
import shutil
import subprocess
import sys

import pytest

from tests.support import ROOT, free_port


def run_cli(data_dir, *args, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("KLAXON_")}
    full.update({"KLAXON_DATA_DIR": str(data_dir), "KLAXON_BIND": f"127.0.0.1:{free_port()}"})
    full.update(env)
    return subprocess.run([sys.executable, "-m", "cli", *args], env=full, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A data dir as `klaxon create-token --create` leaves it: one CLI run for the module, not one a test."""
    data_dir = tmp_path_factory.mktemp("made")
    made = run_cli(data_dir, "create-token", "--create")
    assert made.returncode == 0, made.stderr
    return data_dir


def copy_of(made, data_dir):
    """``data_dir`` with what ``made`` holds (the database, its writer lock file, the secret key)."""
    for path in made.iterdir():
        shutil.copy2(path, data_dir / path.name)


def test_create_token_in_the_wrong_data_dir_says_so_instead_of_printing_a_token(tmp_path):
    made = run_cli(tmp_path / "real", "create-admin", "--username", "root", "--password", "s3cret-enough",
                   "--create")
    assert made.returncode == 0, made.stderr
    assert f"database sqlite:///{tmp_path / 'real' / 'klaxon.db'}" in made.stderr
    wrong = run_cli(tmp_path / "typo", "create-token")
    assert wrong.returncode != 0 and wrong.stdout == ""
    assert "no Klaxon database at" in wrong.stderr and "KLAXON_DATA_DIR" in wrong.stderr
    assert "--create" in wrong.stderr
    assert not (tmp_path / "typo" / "klaxon.db").exists()


def test_create_token_names_the_database_it_used_on_stderr_and_prints_only_the_token(tmp_path, made):
    copy_of(made, tmp_path)
    token = run_cli(tmp_path, "create-token", "--name", "ci")
    assert token.returncode == 0, token.stderr
    assert token.stdout.strip().startswith("kx_") and len(token.stdout.strip().splitlines()) == 1
    assert f"data dir {tmp_path}" in token.stderr and str(tmp_path / "klaxon.db") in token.stderr


def test_the_environment_can_ask_for_a_new_database(tmp_path):
    made = run_cli(tmp_path, "create-token", KLAXON_CREATE_DATABASE="1")
    assert made.returncode == 0, made.stderr
    assert "creating a new database" in made.stderr


def test_check_prints_the_documented_settings_plainly(tmp_path, made):
    copy_of(made, tmp_path)
    out = run_cli(tmp_path, "check", KLAXON_WEBHOOK_ALLOW_CIDRS="127.0.0.0/8").stdout
    assert "KLAXON_BIND " in out and "KLAXON_BIND_HOST" not in out and "KLAXON_BIND_PORT" not in out
    assert "IPv4Network" not in out and "None" not in out and "(" + "'" not in out
    assert f"sqlite:///{tmp_path / 'klaxon.db'}" in out  # a path is no secret: not masked
    assert next(line for line in out.splitlines() if line.startswith("KLAXON_WEBHOOK_ALLOW_CIDRS")).endswith(
        " 127.0.0.0/8")


def test_check_says_the_embedded_redis_is_not_running_and_a_missing_database_is_missing(tmp_path):
    result = run_cli(tmp_path, "check")
    assert "embedded Redis: not running (klaxon serve starts it)" in result.stdout
    assert "no database at" in result.stdout and "reachable" not in result.stdout
    assert not (tmp_path / "klaxon.db").exists()
    assert result.returncode == 1


def test_check_connects_to_the_database_it_reports(tmp_path, made):
    copy_of(made, tmp_path)
    ok = run_cli(tmp_path, "check")
    assert "reachable (connected and ran SELECT 1)" in ok.stdout and ok.returncode == 0
    bad = run_cli(tmp_path, "check", KLAXON_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    assert "KLAXON_DATABASE_URL: cannot connect" in bad.stdout and bad.returncode == 1
