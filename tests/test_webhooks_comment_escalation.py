"""Issue 16, SPEC §4: comment and escalation updates (and recipient failures under the escalation
checkbox), a status ``username`` that is never null, a REST response's ``device``, and
``outboundProperties``. Every update is received by a real receiver on 127.0.0.1, verified with
standardwebhooks and checked field by field."""
import re

import pytest

from extensions import db
from models import UPDATE_TYPES, Alert
from tests.support import Receiver, add_user, drive, hook, make_config, trigger, verified

DATE = re.compile(r"^\d{2}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")
PROPERTIES = {"Summary": "Disk full on db-1", "Host": "db-1", "Region": "eu-west"}
ALL_PROPERTIES = [{"Summary": "Disk full on db-1"}, {"Host": "db-1"}, {"Region": "eu-west"}]
OPTIONS = [{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"}, {"text": "Resolve", "action": "END"}]


def updates_to(receiver, types):
    """Every update type of the product (comment and escalation included): those in ``types`` post to /<type>."""
    return {t: {"enabled": t in types, "url": f"{receiver.url}/{t}" if t in types else None} for t in UPDATE_TYPES}


def configuration(api, updates, types, **extra):
    return make_config(api, responseOptions=OPTIONS, updates=updates_to(updates, types), **extra)


def received(receiver, path, secret):
    """(body, lower-cased headers) of every update at ``path``, each signature checked."""
    with receiver.lock:
        requests = [r for r in receiver.requests if r["path"] == path]
    return [(verified(r, secret), {k.lower(): v for k, v in r["headers"].items()}) for r in requests]


def at(receiver, path):
    with receiver.lock:
        return [r for r in receiver.requests if r["path"] == path]


def test_a_comment_from_the_api_the_dashboard_and_a_response_is_a_comment_update(
        api, client, admin_client, run_jobs):
    add_user(api, "bsmith", [])
    db.session.expire_all()
    from models import User
    db.session.query(User).filter_by(username="bsmith").update({"name": "Bob Smith"})
    db.session.commit()
    with Receiver() as updates:
        config = configuration(api, updates, ("comment",))
        created = trigger(client, config, {"properties": PROPERTIES})
        number = created["eventIdentifier"]
        assert api.post(f"/api/v1/alerts/{number}/annotations", json={"comment": "looking"}).status_code == 201
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', admin_client.get("/alerts").get_data(as_text=True))
        assert admin_client.post(f"/alerts/{number}/comments",
                                 data={"comment": "from the dashboard", "csrf_token": csrf.group(1)}).status_code < 400
        api.post(f"/api/v1/alerts/{number}/responses",
                 json={"recipient": "bsmith", "response": "Acknowledge", "comment": "on it"})
        drive(run_jobs, lambda: len(at(updates, "/comment")) >= 3)
        (by_token, headers), (by_admin, _), (by_response, _) = received(updates, "/comment", config["signingSecret"])
    assert headers["x-klaxon-update-type"] == "comment"
    assert set(by_token) == {"eventIdentifier", "author", "comment", "date", "eventProperties"}
    assert by_token["eventIdentifier"] == number
    assert by_token["author"] == {"username": "token:tests", "firstName": None, "lastName": None}
    assert by_token["comment"] == "looking"
    assert DATE.match(by_token["date"]) and by_token["eventProperties"] == ALL_PROPERTIES
    assert (by_admin["author"]["username"], by_admin["comment"]) == ("admin", "from the dashboard")
    assert by_response["author"] == {"username": "bsmith", "firstName": "Bob", "lastName": "Smith"}
    assert by_response["comment"] == "on it"


def test_a_group_escalating_to_its_next_member_is_an_escalation_update(api, client, run_jobs):
    with Receiver() as devices, Receiver() as updates:
        for name in ("alice", "bob"):
            add_user(api, name, [hook(devices, "Hook", name)])
        api.post("/api/v1/groups", json={"name": "DBA", "members": ["alice", "bob"],
                                         "mode": "escalate-in-order", "escalationDelayMinutes": 0.01})
        config = configuration(api, updates, ("escalation",), recipients=[{"id": "DBA", "recipientType": "GROUP"}])
        created = trigger(client, config, {"properties": PROPERTIES})
        drive(run_jobs, lambda: at(updates, "/escalation"))
        ((body, headers),) = received(updates, "/escalation", config["signingSecret"])
    assert headers["x-klaxon-update-type"] == "escalation"
    assert body == {"eventIdentifier": created["eventIdentifier"], "group": "DBA", "shift": None,
                    "recipients": ["bob"], "level": 2, "date": body["date"], "eventProperties": ALL_PROPERTIES}
    assert DATE.match(body["date"])


@pytest.mark.parametrize("settings_env", [{"KLAXON_MINUTE_SECONDS": "0.05"}])
def test_an_on_call_shift_escalating_to_its_next_level_names_the_shift(api, client, run_jobs):
    with Receiver() as devices, Receiver() as updates:
        for name in ("alice", "bob"):
            add_user(api, name, [hook(devices, "Hook", name)])
        made = api.post("/api/v1/groups", json={"name": "NOC", "shifts": [{
            "name": "Always", "start": "2026-01-01T00:00", "end": "2026-01-02T00:00",
            "recurrence": {"frequency": "DAILY"},
            "timeline": [{"member": "alice"}, {"member": "bob", "delayMinutes": 1}]}]})
        assert made.status_code == 201, made.get_json()
        config = configuration(api, updates, ("escalation",), recipients=[{"id": "NOC", "recipientType": "GROUP"}])
        created = trigger(client, config, {"properties": PROPERTIES})
        drive(run_jobs, lambda: at(updates, "/escalation"))
        ((body, headers),) = received(updates, "/escalation", config["signingSecret"])
    assert headers["x-klaxon-update-type"] == "escalation"
    assert body == {"eventIdentifier": created["eventIdentifier"], "group": "NOC", "shift": "Always",
                    "recipients": ["bob"], "level": 2, "date": body["date"], "eventProperties": ALL_PROPERTIES}


def test_a_recipient_that_reaches_nobody_is_a_recipient_failure_under_the_escalation_checkbox(
        api, client, run_jobs):
    add_user(api, "nodevice", [])
    with Receiver() as updates:
        config = configuration(api, updates, ("escalation",))
        created = trigger(client, config, {"properties": PROPERTIES, "recipients": [
            {"id": "nodevice", "recipientType": "PERSON"}, {"id": "ghost", "recipientType": "PERSON"}]})
        drive(run_jobs, lambda: len(at(updates, "/escalation")) >= 2)
        bodies = received(updates, "/escalation", config["signingSecret"])
    assert [h["x-klaxon-update-type"] for _, h in bodies] == ["recipient_failure"] * 2
    first, second = (b for b, _ in bodies)
    assert first == {"eventIdentifier": created["eventIdentifier"], "recipient": "nodevice",
                     "reason": "nodevice has no enabled device", "date": first["date"],
                     "eventProperties": ALL_PROPERTIES}
    assert (second["recipient"], second["reason"]) == ("ghost", "no user named 'ghost'")
    timeline = api.get(f"/api/v1/alerts/{created['alertId']}").get_json()["timeline"]
    assert [t["detail"]["recipient"] for t in timeline if t["type"] == "RECIPIENT_FAILED"] == ["nodevice", "ghost"]


def test_status_updates_name_who_changed_the_alert(api, client, run_jobs):
    with Receiver() as updates:
        config = configuration(api, updates, ("status",), name="Prod")
        made = trigger(client, config, {"properties": PROPERTIES})
        api.post(f"/api/v1/alerts/{made['alertId']}/status", json={"status": "SUSPENDED"})
        expiring = trigger(client, config, {"expirationInMinutes": 1})
        db.session.query(Alert).filter_by(id=expiring["eventIdentifier"]).update(
            {"expires_at": Alert.created_at})
        db.session.commit()
        from alerting.alerts.lifecycle import sweep_expired
        from models import utcnow
        sweep_expired(utcnow())
        drive(run_jobs, lambda: len(at(updates, "/status")) >= 4)
        bodies = [b for b, _ in received(updates, "/status", config["signingSecret"])]
    assert [(b["status"], b["username"]) for b in bodies] == [
        ("active", "integration:Prod"), ("suspended", "token:tests"), ("active", "integration:Prod"),
        ("terminated", "klaxon")]


def test_a_source_resolving_an_alert_is_named_in_the_status_update(api, client, run_jobs):
    from tests.support import send_alert
    with Receiver() as updates:
        config = make_config(api, template="pagerduty", name="PD", updates=updates_to(updates, ("status",)))
        for action in ("trigger", "resolve"):
            send_alert(client, config, {"routing_key": config["apiKey"], "event_action": action,
                                        "dedup_key": "db-1/disk", "payload": {
                                            "summary": "Disk full", "source": "db-1", "severity": "critical"}})
        drive(run_jobs, lambda: len(at(updates, "/status")) >= 2)
        bodies = [b for b, _ in received(updates, "/status", config["signingSecret"])]
    assert [(b["status"], b["username"]) for b in bodies] == [
        ("active", "integration:PD"), ("terminated_external", "integration:PD")]


def test_a_response_through_the_rest_api_names_the_api_as_its_device(api, client, run_jobs):
    add_user(api, "bsmith", [])
    with Receiver() as updates:
        config = configuration(api, updates, ("response",))
        made = trigger(client, config, {"properties": PROPERTIES})
        api.post(f"/api/v1/alerts/{made['alertId']}/responses", json={"recipient": "bsmith", "response": "Resolve"})
        drive(run_jobs, lambda: at(updates, "/response"))
        ((body, _),) = received(updates, "/response", config["signingSecret"])
    assert body["device"] == "REST API" and body["recipient"] == "bsmith" and body["response"] == "Resolve"


def test_outbound_properties_narrow_event_properties_of_every_update(api, client, run_jobs):
    with Receiver() as updates:
        config = configuration(api, updates, ("status", "comment"), outboundProperties=["Region", "Summary"])
        assert config["outboundProperties"] == ["Region", "Summary"]
        made = trigger(client, config, {"properties": PROPERTIES})
        api.post(f"/api/v1/alerts/{made['alertId']}/annotations", json={"comment": "x"})
        drive(run_jobs, lambda: at(updates, "/status") and at(updates, "/comment"))
        bodies = [b for path in ("/status", "/comment") for b, _ in received(updates, path, config["signingSecret"])]
    # in the order received, not the order listed
    assert [b["eventProperties"] for b in bodies] == [[{"Summary": "Disk full on db-1"}, {"Region": "eu-west"}]] * 2
    cleared = api.patch(f"/api/v1/configurations/{config['uuid']}", json={"outboundProperties": None}).get_json()
    assert cleared["outboundProperties"] is None
    bad = api.patch(f"/api/v1/configurations/{config['uuid']}", json={"outboundProperties": "Host"})
    assert bad.status_code == 400 and bad.get_json()["field"] == "outboundProperties"


def test_the_updates_tab_saves_comment_escalation_and_outbound_properties_in_place(api, admin_client):
    config = make_config(api)
    page = admin_client.get(f"/integrations/{config['uuid']}/updates").get_data(as_text=True)
    for name in ("comment_enabled", "comment_url", "escalation_enabled", "escalation_url", "outboundProperties"):
        assert f'name="{name}"' in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    saved = admin_client.post(f"/integrations/{config['uuid']}/updates", headers={"HX-Request": "true"}, data={
        "csrf_token": csrf, "comment_enabled": "on", "comment_url": "http://127.0.0.1:9/comment",
        "escalation_enabled": "on", "escalation_url": "http://127.0.0.1:9/escalation",
        "outboundProperties": "Host\nRegion, Summary"})
    assert saved.status_code == 200 and "Saved" in saved.get_data(as_text=True)
    now = api.get(f"/api/v1/configurations/{config['uuid']}").get_json()
    assert now["updates"]["comment"]["enabled"] and now["updates"]["comment"]["url"] == "http://127.0.0.1:9/comment"
    assert now["updates"]["escalation"]["url"] == "http://127.0.0.1:9/escalation"
    assert now["outboundProperties"] == ["Host", "Region", "Summary"]
