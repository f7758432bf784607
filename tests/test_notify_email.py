"""Email devices through a real SMTP server (aiosmtpd): the message, a refusal, a server that is down."""
import re
import time

import pytest

from tests.support import SmtpServer, add_user, alert_json, free_port, hook, notify_config, person, trigger

DOWN = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there


async def refuse_nobody(server, session, envelope, address, rcpt_options):
    if address.startswith("nobody@"):
        return "550 5.1.1 No such user here"
    envelope.rcpt_tos.append(address)
    return "250 OK"


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    server.controller.handler.handle_RCPT = refuse_nobody
    with server:
        yield server


@pytest.fixture
def settings_env(request, smtp_server):
    # smtp_server is a dependency so it is listening before the app reads KLAXON_SMTP_URL
    return {"KLAXON_SMTP_URL": getattr(request, "param", None) or smtp_server.url,
            "KLAXON_SMTP_FROM": "alerts@klaxon.test"}


def email_user(api, username, address):
    return add_user(api, username, [{"name": "Work Email", "kind": "email", "target": address}])


def test_it_emails_the_alert_with_sender_subject_properties_and_links(api, client, run_jobs, smtp_server):
    email_user(api, "bsmith", "bsmith@example.com")
    created = trigger(client, notify_config(api, [person("bsmith")]))
    run_jobs()
    (sent,) = smtp_server.wait_for(1)
    email = sent["email"]
    assert sent["to"] == ["bsmith@example.com"] and sent["from"] == "alerts@klaxon.test"
    assert email["Subject"] == "[HIGH] Prod Monitoring: Disk full on db-1"
    assert email["From"].addresses[0].display_name == "Prod Monitoring"
    assert email["From"].addresses[0].addr_spec == "alerts@klaxon.test"
    text = email.get_body(preferencelist=("plain",)).get_content()
    html = email.get_body(preferencelist=("html",)).get_content()
    assert "Free space fell below 5%" in text and "Host: db-1" in text
    assert f"Alert #{created['eventIdentifier']}" in text
    assert re.search(r"<td[^>]*>Host</td>\s*<td[^>]*>\s*db-1", html)
    links = re.findall(r"http://klaxon\.test/respond/[\w.-]+", text)
    assert len(links) == 2 and all(link in html for link in links)
    (note,) = alert_json(api, created["alertId"])["notifications"]
    assert note["deliveryStatus"] == "Delivered" and note["result"].startswith("250")


def test_a_refused_recipient_fails_at_once_and_the_others_still_get_theirs(api, client, run_jobs, smtp_server):
    email_user(api, "bsmith", "bsmith@example.com")
    email_user(api, "ghost", "nobody@example.com")
    created = trigger(client, notify_config(api, [person("ghost"), person("bsmith")]))
    run_jobs()
    smtp_server.wait_for(1)
    time.sleep(0.2)
    notes = {n["recipient"]: n for n in alert_json(api, created["alertId"])["notifications"]}
    assert notes["bsmith"]["deliveryStatus"] == "Delivered"
    ghost = notes["ghost"]
    assert ghost["deliveryStatus"] == "Failed" and ghost["attempts"] == 1
    assert "550" in ghost["result"] and "nobody@example.com" in ghost["result"]
    assert [m["to"] for m in smtp_server.messages] == [["bsmith@example.com"]]


@pytest.mark.parametrize("settings_env", [DOWN], ids=["down"], indirect=True)  # one id in every xdist worker
def test_a_server_that_is_down_fails_after_the_bounded_retries(api, client, run_jobs, receiver):
    email_user(api, "bsmith", "bsmith@example.com")
    add_user(api, "jdoe", [hook(receiver, "Hook", "jdoe")])
    created = trigger(client, notify_config(api, [person("bsmith"), person("jdoe")]))
    run_jobs(rounds=10)
    receiver.wait_for(1)
    alert = alert_json(api, created["alertId"])
    notes = {n["recipient"]: n for n in alert["notifications"]}
    assert notes["jdoe"]["deliveryStatus"] == "Delivered"
    bob = notes["bsmith"]
    assert bob["deliveryStatus"] == "Failed" and bob["attempts"] == 3  # KLAXON_NOTIFY_RETRY_SCHEDULE=0,0,0
    assert "connection refused" in bob["result"]
    failed = [t for t in alert["timeline"] if t["type"] == "NOTIFICATION_FAILED"]
    assert len(failed) == 1 and failed[0]["detail"]["recipient"] == "bsmith"
