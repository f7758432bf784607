"""`klaxon serve` and the admin commands, run as a user would run them."""
import os
import shutil
import signal
import subprocess
import sys

import psutil
import pytest
import requests

from tests.support import ROOT, LiveKlaxon, free_port, wait_until

pytestmark = pytest.mark.slow


def run_cli(tmp_path, *args, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("KLAXON_")}
    full.update({"KLAXON_DATA_DIR": str(tmp_path / "data"), "KLAXON_BIND": f"127.0.0.1:{free_port()}"})
    full.update(env)
    return subprocess.run([sys.executable, "-m", "cli", *args], env=full, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_serve_starts_everything_and_stops_it_on_sigint(tmp_path):
    env = dict.fromkeys(("KLAXON_DATABASE_URL", "KLAXON_REDIS_URL"), "")
    env["KLAXON_WEB_WORKERS"] = "1"  # one web worker is the web's part of "everything"; more only cost CPU
    # two RQ workers: worker-0 (with the sweeper) and worker-1 (--no-sweeper) each name their database below
    server = LiveKlaxon(tmp_path / "data", env=env, workers=2)
    server.start()
    try:
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
        login = requests.get(server.url + "/login", timeout=5, allow_redirects=True)
        assert login.status_code == 200 and "Create the first admin" in login.text
        children = psutil.Process(server.proc.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in children)
        assert "gunicorn" in names and "worker" in names and "redis-server" in names
        assert (tmp_path / "data" / "klaxon.aof").exists() or (tmp_path / "data" / "appendonlydir").exists()
        # the serve and each of its workers name the data dir and database they use, as one log record
        where = f"klaxon.cli: data dir {tmp_path / 'data'}; database sqlite:///{tmp_path / 'data' / 'klaxon.db'}"
        wait_until(lambda: server.log_text().count(where) == 3, 10,
                   message=f"{where!r} from the serve and its two workers in:\n{server.log_text()}")
    finally:
        os.killpg(server.proc.pid, signal.SIGINT)
        assert server.proc.wait(30) == 0
        server.log.close()
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], [p.cmdline() for p in alive]


@pytest.mark.parametrize("name, value, words", [
    ("KLAXON_BIND", "localhost:notaport", "KLAXON_BIND"),
    ("KLAXON_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none", "KLAXON_DATABASE_URL: cannot connect"),
    ("KLAXON_REDIS_URL", "redis//oops", "KLAXON_REDIS_URL"),
    ("KLAXON_REDIS_URL", "redis://127.0.0.1:1/0", "KLAXON_REDIS_URL: cannot connect"),
])
def test_serve_refuses_a_bad_setting_with_one_clear_line(tmp_path, name, value, words):
    result = run_cli(tmp_path, "serve", **{name: value})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("klaxon: ") and words in lines[0]


@pytest.fixture(scope="module")
def admin_made(tmp_path_factory):
    """`klaxon create-admin --username root --password ... --create`, run once for the module (a CLI
    process is ~1.5 s of CPU): (the directory whose data/ it made, its result)."""
    base = tmp_path_factory.mktemp("admin")
    return base, run_cli(base, "create-admin", "--username", "root", "--password", "s3cret-enough", "--create")


def test_create_admin_and_create_token_need_no_prompts(admin_made):
    base, made = admin_made
    assert made.returncode == 0, made.stderr
    token = run_cli(base, "create-token", "--name", "ci")
    assert token.returncode == 0, token.stderr
    assert token.stdout.strip().startswith("kx_") and len(token.stdout.strip().splitlines()) == 1


def test_check_masks_secrets_and_reports_reachability(tmp_path, admin_made):
    base, made = admin_made
    assert made.returncode == 0, made.stderr
    shutil.copytree(base / "data", tmp_path / "data")  # its own copy of the database create-admin made
    result = run_cli(tmp_path, "check", KLAXON_SECRET_KEY="do-not-print-me-please",
                     KLAXON_REDIS_URL="redis://127.0.0.1:1/0")
    assert "do-not-print-me-please" not in result.stdout
    assert "KLAXON_SECRET_KEY" in result.stdout
    assert "database" in result.stdout and "reachable" in result.stdout
    assert "KLAXON_REDIS_URL: cannot connect" in result.stdout
    assert result.returncode == 1
