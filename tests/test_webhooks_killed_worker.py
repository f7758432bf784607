"""A worker killed in the middle of posting an update: a new worker sends the message again,
with the same webhook-id, once the dead worker's lease on it runs out."""
import os
import signal
import subprocess
import sys

import pytest

from extensions import db
from models import WebhookMessage
from tests.support import KILL_TEST_LEASE_ENV, ROOT, Receiver, header, trigger, updates_config, verified, wait_until


@pytest.fixture
def settings_env():
    return KILL_TEST_LEASE_ENV


def start_worker(settings, *args):
    env = dict(os.environ)
    env.update({"KLAXON_DATA_DIR": str(settings.data_dir), "KLAXON_DATABASE_URL": settings.database_url,
                "KLAXON_REDIS_URL": settings.redis_url, "KLAXON_SECRET_KEY": settings.secret_key,
                "KLAXON_BASE_URL": settings.base_url, "KLAXON_WEBHOOK_ALLOW_CIDRS": "127.0.0.0/8",
                "KLAXON_SWEEP_INTERVAL": "0.5", "KLAXON_LOG_LEVEL": "WARNING",
                "KLAXON_WEBHOOK_LEASE_SECONDS": str(settings.webhook_lease_seconds)})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # its own process group: the worker and the RQ scheduler it forks die together
    with open(settings.data_dir / f"worker-{len(args)}.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "cli", "worker", *args], env=env, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def message_state():
    """(msg_id, status) of the only message; the session is handed back so no SQLite lock is held."""
    try:
        message = db.session.query(WebhookMessage).one()
        return message.msg_id, message.status
    finally:
        db.session.remove()


def stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.slow
def test_a_message_outlives_a_worker_killed_mid_delivery(api, client, settings):
    lease = settings.webhook_lease_seconds  # what the workers below run with
    with Receiver(delay=[3, 0]) as receiver:  # the worker is killed while the first request waits
        config = updates_config(api, receiver)
        trigger(client, config)
        db.session.remove()  # hold no transaction: on SQLite it would keep the workers out
        first = start_worker(settings, "--no-sweeper")
        try:
            receiver.wait_for(1, timeout=60)
        finally:
            stop(first, signal.SIGKILL)
        assert message_state()[1] == "pending"
        second = start_worker(settings)
        try:
            wait_until(lambda: message_state()[1] == "delivered", timeout=lease + 40, interval=0.1,
                       message="the message to be delivered by the second worker")
        finally:
            stop(second)
    requests = receiver.requests
    assert len(requests) == 2
    assert header(requests[0], "webhook-id") == header(requests[1], "webhook-id") == message_state()[0]
    assert verified(requests[1], config["signingSecret"])["status"] == "active"
    assert requests[1]["at"] - requests[0]["at"] >= lease - 1
