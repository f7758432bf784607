"""A worker killed in the middle of posting an update: a new worker sends the message again,
with the same webhook-id, once the dead worker's lease on it runs out."""
import signal

import pytest

from extensions import db
from models import WebhookMessage
from tests.support import (
    KILL_TEST_LEASE_ENV,
    Receiver,
    header,
    start_worker,
    stop_worker,
    trigger,
    updates_config,
    verified,
    wait_until,
)


@pytest.fixture
def settings_env():
    return KILL_TEST_LEASE_ENV


def message_state():
    """(msg_id, status) of the only message; the session is handed back so no SQLite lock is held."""
    try:
        message = db.session.query(WebhookMessage).one()
        return message.msg_id, message.status
    finally:
        db.session.remove()


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
            stop_worker(first, signal.SIGKILL)
        assert message_state()[1] == "pending"
        second = start_worker(settings)
        try:
            wait_until(lambda: message_state()[1] == "delivered", timeout=lease + 40, interval=0.1,
                       message="the message to be delivered by the second worker")
        finally:
            stop_worker(second)
    requests = receiver.requests
    assert len(requests) == 2
    assert header(requests[0], "webhook-id") == header(requests[1], "webhook-id") == message_state()[0]
    assert verified(requests[1], config["signingSecret"])["status"] == "active"
    assert requests[1]["at"] - requests[0]["at"] >= lease - 1
