"""A worker SIGKILLed in the middle of posting an update webhook: every message is delivered at
least once, and a message sent twice carries the same webhook-id both times.

The killed worker's message keeps its lease (KLAXON_WEBHOOK_LEASE_SECONDS, short here); once that
runs out the sweeper queues it again and the worker the supervisor started in its place posts it.
"""
import json
import time
from collections import defaultdict

import pytest
import requests

from config import load_settings
from tests.reliability.faults import kill_tree, wait_for_new, workers
from tests.support import KILL_TEST_LEASE_ENV, Receiver, wait_until

pytestmark = pytest.mark.slow
ALERTS = 4


def post_alerts(klaxon, cfg, count):
    for seq in range(count):
        response = requests.post(klaxon.trigger_url(cfg), json={"properties": {"Summary": f"kill #{seq}"}}, timeout=10)
        assert response.status_code == 202, response.text


def by_alert(receiver):
    """{eventIdentifier: [webhook-id of each request]} in arrival order."""
    seen = defaultdict(list)
    for request in receiver.requests:
        headers = {k.lower(): v for k, v in request["headers"].items()}
        seen[json.loads(request["body"])["eventIdentifier"]].append(headers["webhook-id"])
    return seen


def test_a_worker_killed_mid_delivery_loses_no_message_and_resends_with_the_same_id(site, figures):
    with Receiver(delay=[3, 0]) as receiver:  # the worker is killed while the first request waits
        klaxon = site(env=KILL_TEST_LEASE_ENV, workers=1)
        lease = load_settings(env=klaxon.server.env).webhook_lease_seconds
        cfg = klaxon.configuration(updates={"status": f"{receiver.url}/status"})
        post_alerts(klaxon, cfg, ALERTS)
        (in_flight,) = receiver.wait_for(1, timeout=30)  # one worker: this is the request it is waiting on
        (worker,) = workers(klaxon.server)
        kill_tree(worker)
        killed_at = time.monotonic()
        wait_for_new(klaxon.server, workers, {worker.pid})

        def settled():
            messages = klaxon.messages(configuration=cfg["uuid"])
            return len(messages) == ALERTS and all(m["status"] == "delivered" for m in messages) and messages
        messages = wait_until(settled, lease + 90, interval=0.25, message="every message delivered")
        recovered = time.monotonic() - killed_at

    sent = by_alert(receiver)
    assert set(sent) == {m["eventIdentifier"] for m in messages}, "a message never reached the receiver"
    for message in messages:
        assert set(sent[message["eventIdentifier"]]) == {message["msgId"]}, "a resend changed the webhook-id"
    killed_alert = json.loads(in_flight["body"])["eventIdentifier"]
    assert len(sent[killed_alert]) >= 2, "the message the killed worker was sending was not sent again"
    figures.update(messages=ALERTS, requests=len(receiver.requests),
                   duplicates=sum(len(ids) - 1 for ids in sent.values()),
                   seconds_from_kill_to_all_delivered=round(recovered, 1))
