"""The data dir holds integration keys, signing secrets and device targets: a real `klaxon serve`
keeps it 0700 and every file in it 0600 (the database with its WAL and SHM, the append-only file,
the secret key), and puts right the modes of a data dir left world-readable by an older Klaxon."""
import os
import stat

import pytest
import requests

from tests.conftest import TEST_DB, TEST_REDIS

pytestmark = pytest.mark.slow


def modes(data_dir):
    """{relative path: mode} for the data dir and everything in it but the test's own serve.log."""
    found = {".": stat.S_IMODE(os.stat(data_dir).st_mode)}
    for root, dirs, files in os.walk(data_dir):
        for name in dirs + files:
            path = os.path.join(root, name)
            if name == "serve.log" or stat.S_ISSOCK(os.lstat(path).st_mode):
                continue
            found[os.path.relpath(path, data_dir)] = stat.S_IMODE(os.lstat(path).st_mode)
    return found


def expected_files():
    names = {"secret_key"}
    if not TEST_DB:
        names |= {"klaxon.db", "klaxon.db-wal", "klaxon.db-shm"}
    return names


def is_aof(name):
    return "klaxon.aof" in name or name.startswith("appendonlydir")


def wrong(data_dir):
    """The paths whose mode is not 0700 (directories) or 0600 (files)."""
    return {path: oct(mode) for path, mode in modes(data_dir).items()
            if mode != (0o700 if os.path.isdir(data_dir / path) else 0o600)}


def drive(klaxon):
    """Write something everywhere: a user with a device, a configuration, an alert."""
    klaxon.user("bsmith", [("webhook", "Pager", "http://127.0.0.1:9/page")])
    cfg = klaxon.configuration(recipients=["bsmith"])
    assert requests.post(klaxon.trigger_url(cfg), json={"subject": "private"}, timeout=10).status_code == 202


def test_a_live_klaxon_keeps_its_data_dir_private(site, figures):
    # the key is generated into the data dir, and the serve makes the database (not the test's copy)
    klaxon = site(env={"KLAXON_SECRET_KEY": ""}, workers=1, fresh_database=True)
    data_dir = klaxon.server.data_dir
    drive(klaxon)
    found = modes(data_dir)
    assert expected_files() <= set(found), sorted(found)
    assert TEST_REDIS or any(is_aof(name) for name in found), sorted(found)
    assert not wrong(data_dir), f"not private: {wrong(data_dir)}"
    figures.update(files=len(found))


def test_serve_makes_an_old_world_readable_data_dir_private(site):
    klaxon = site(env={"KLAXON_SECRET_KEY": ""}, workers=1)
    data_dir = klaxon.server.data_dir
    drive(klaxon)
    klaxon.server.stop()
    os.chmod(data_dir, 0o755)  # as an older Klaxon (or a careless restore) left them
    for name in modes(data_dir):
        path = data_dir / name
        if name != "." and path.is_file():
            os.chmod(path, 0o644)
    klaxon.server.start()
    assert not wrong(data_dir), f"not private after a restart: {wrong(data_dir)}"
