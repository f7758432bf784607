"""Real xMatters clients at the integration URL (issue 16, SPEC §2): each recorded body is accepted
and becomes the alert, the notifications and the 202 its sender expects, field by field."""
import base64
import json
from pathlib import Path

import pytest

from extensions import db
from models import Alert, Notification
from tests.support import add_user, drive, hook, integration_path, make_config, send_alert

PAYLOADS = Path(__file__).parent / "payloads"
OPTIONS = [{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"}, {"text": "Resolve", "action": "END"}]
NOTIFIES_NOBODY = ("This alert has no recipients (none in the trigger, none on the configuration), "
                   "so no one will be notified.")


def raw(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


@pytest.fixture
def team(api, receiver):
    """bsmith and jdoe with webhook devices at the receiver; Database Team escalates jdoe, then bsmith."""
    add_user(api, "bsmith", [hook(receiver, "Hook", "bsmith")])
    add_user(api, "jdoe", [hook(receiver, "Hook", "jdoe")])
    response = api.post("/api/v1/groups", json={"name": "Database Team", "members": ["jdoe", "bsmith"],
                                                "mode": "escalate-in-order", "escalationDelayMinutes": 30})
    assert response.status_code == 201, response.get_json()
    return receiver


def spelt(options):
    """Options as a trigger spells them: the configuration's carry an id and a number too (SPEC §1)."""
    return [{k: v for k, v in o.items() if k not in ("id", "number")} for o in options]


def config_for(api, **extra):
    return make_config(api, senderName="Prod Monitoring", responseOptions=OPTIONS, **extra)


def post_raw(client, cfg, body: bytes, content_type: str | None, query: str = "", **kwargs):
    headers = {"Content-Type": content_type} if content_type else {}
    return client.post(integration_path(cfg) + query, data=body, headers=headers, **kwargs)


def stored(body) -> Alert:
    db.session.expire_all()
    return db.session.query(Alert).filter_by(uuid=body["alertId"]).one()


def notified(alert_id: int) -> list[str]:
    db.session.expire_all()
    return sorted(n.recipient for n in db.session.query(Notification).filter_by(alert_id=alert_id))


def test_hubot_names_recipients_by_target_name_and_they_are_notified(api, client, team, run_jobs):
    body = raw("xm_hubot.json").replace(b"{callback}", team.url.encode())
    cfg = config_for(api)
    key = base64.b64encode(b"xBot:" + cfg["apiKey"].encode()).decode()  # hubot sends Basic, the key as password
    response = client.post(integration_path(cfg, key=False), data=body,
                           headers={"Content-Type": "application/json", "Authorization": f"Basic {key}"})
    assert response.status_code == 202, response.get_json()
    answer = response.get_json()
    assert set(answer) == {"requestId", "alertId", "eventIdentifier", "status"}
    alert = stored(answer)
    assert alert.recipients == [{"id": "bsmith", "recipientType": "PERSON"},  # a targetName is a user or a group
                                {"id": "Database Team", "recipientType": "GROUP"}]
    assert alert.properties == {"Message": "db-1 is out of disk, please look", "Room": "ops"}
    number = alert.id
    drive(run_jobs, lambda: notified(number) == ["bsmith", "jdoe"])  # bsmith, and the group's first member


def test_control_m_targets_a_group_by_target_name_and_its_first_member_is_paged(api, client, team, run_jobs):
    cfg = config_for(api)
    response = post_raw(client, cfg, raw("xm_controlm.json"), "application/json")
    assert response.status_code == 202, response.get_json()
    assert "unresolvedRecipients" not in response.get_json()
    alert = stored(response.get_json())
    assert alert.recipients == [{"id": "Database Team", "recipientType": "GROUP"},
                                {"id": "jdoe", "recipientType": "PERSON"}]
    assert (alert.subject, alert.priority) == ("Job PAYROLL_NIGHTLY ended NOTOK", "HIGH")
    assert list(alert.properties) == ["Summary", "Job Name", "Order ID", "Application", "Node ID", "Severity",
                                      "Message"]
    number = alert.id
    drive(run_jobs, lambda: notified(number) == ["jdoe"])  # the group's first member, once


def test_remedy_picks_response_options_by_id_and_number_and_names_a_group_by_uuid(api, client, team):
    cfg = config_for(api)
    response = post_raw(client, cfg, raw("xm_remedy.json"), "application/json")
    assert response.status_code == 202, response.get_json()
    answer = response.get_json()
    assert answer["unresolvedRecipients"] == ["5f5b6f7c-1b2a-4c3d-9e8f-0a1b2c3d4e5f"]
    assert answer["ignoredFields"] == ["overrideDeviceRestrictions", "requirePhonePassword", "bypassPhoneIntro"]
    assert answer["warnings"] == ["responseOptions[2] picks id '8d2e1c4b-6a5f-4e3d-b2c1-a0f9e8d7c6b5', which is not "
                                  "one of this configuration's response options; it was left out."]
    alert = stored(answer)
    assert spelt(alert.response_options) == OPTIONS  # Acknowledge by id, Resolve by number; unknown keys dropped
    assert [o["number"] for o in alert.response_options] == [1, 2]  # the configuration's own, ids and numbers kept
    assert alert.unresolved_recipients == [{"id": "5f5b6f7c-1b2a-4c3d-9e8f-0a1b2c3d4e5f", "recipientType": "GROUP"}]


def test_a_pick_that_matches_nothing_leaves_the_configurations_options(api, client):
    cfg = config_for(api)
    answer = send_alert(client, cfg, {"responseOptions": [{"id": "Escalate to DBA"}]}).get_json()
    assert stored(answer).response_options == cfg["responseOptions"]
    assert spelt(stored(answer).response_options) == OPTIONS
    assert answer["warnings"][0].startswith("responseOptions[0] picks id 'Escalate to DBA'")


def test_a_response_option_spelt_out_keeps_working_and_ignores_unknown_keys(api, client):
    cfg = config_for(api)
    answer = send_alert(client, cfg, {"responseOptions": [
        {"text": "Seen", "action": "RECORD_RESPONSE", "contribution": "NEUTRAL", "number": 7}]}).get_json()
    assert stored(answer).response_options == [{"text": "Seen", "action": "RECORD_RESPONSE"}]


def test_the_sensu_plugin_posts_text_json(api, client):
    cfg = config_for(api)
    response = post_raw(client, cfg, raw("xm_sensu.json"), "text/json")
    assert response.status_code == 202, response.get_json()
    alert = stored(response.get_json())
    assert alert.properties["check_output"] == "CheckDisk CRITICAL: / 95% bytes usage"
    assert list(alert.properties)[:2] == ["server_name", "server_ip"]
    assert alert.subject == "Monitoring"  # no Summary: the configuration's name


def test_the_keptn_service_posts_without_a_content_type(api, client):
    cfg = config_for(api)
    response = post_raw(client, cfg, raw("xm_keptn.json"), None)
    assert response.status_code == 202, response.get_json()
    assert stored(response.get_json()).subject == "Monitoring"


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain; charset=utf-8", "application/vnd.api+json",
                                          "application/json; charset=utf-8"])
def test_json_under_other_content_types_is_json(api, client, content_type):
    cfg = config_for(api)
    response = post_raw(client, cfg, b'{"subject": "Disk full", "priority": "LOW"}', content_type)
    assert response.status_code == 202, response.get_json()
    alert = stored(response.get_json())
    assert (alert.subject, alert.priority) == ("Disk full", "LOW")


def test_a_form_becomes_properties_and_fills_subject_message_and_priority(api, client):
    cfg = config_for(api)
    response = post_raw(client, cfg, raw("xm_form.txt"), "application/x-www-form-urlencoded")
    assert response.status_code == 202, response.get_json()
    alert = stored(response.get_json())
    assert (alert.subject, alert.message, alert.priority) == ("Backup failed on db-2", "rsync exited 23", "LOW")
    assert alert.properties == {"subject": "Backup failed on db-2", "message": "rsync exited 23", "priority": "low",
                                "Host": "db-2", "Job": "nightly-backup"}


@pytest.mark.parametrize("body, content_type", [(b"Disk full on db-1", "text/plain"), (b"<alert/>", "application/xml"),
                                                (b"Disk full", None), (b"a=1", "multipart/form-data; boundary=x")])
def test_a_body_that_is_neither_json_nor_a_form_is_a_415(api, client, body, content_type):
    cfg = config_for(api)
    response = post_raw(client, cfg, body, content_type)
    assert response.status_code == 415
    assert response.get_json()["reason"] == "Unsupported Media Type"
    assert db.session.query(Alert).count() == 0


def test_malformed_json_without_a_content_type_is_a_400_naming_the_body(api, client):
    response = post_raw(client, config_for(api), b'{"subject": ', None)
    assert response.status_code == 400 and response.get_json()["message"].startswith("body")


def test_other_templates_take_json_without_a_content_type(api, client):
    cfg = make_config(api, template="alertmanager", name="Prometheus")
    response = post_raw(client, cfg, raw("alertmanager_firing.json"), None)
    assert response.status_code == 202, response.get_json()
    form = post_raw(client, cfg, b"status=firing", "application/x-www-form-urlencoded")
    assert form.status_code == 415  # Alertmanager sends JSON only


def test_trigger_alerts_by_webhook_reads_recipients_subject_and_message_from_the_query(api, client, team, run_jobs):
    cfg = config_for(api, recipients=[{"id": "jdoe", "recipientType": "PERSON"}])
    query = "&" + raw("xm_trigger_by_webhook.query").decode().strip()
    response = client.post(integration_path(cfg) + query)  # no body, no Content-Type
    assert response.status_code == 202, response.get_json()
    alert = stored(response.get_json())
    assert (alert.subject, alert.message) == ("Checkout latency over 2s", "p99 at 2.4s for 5 minutes")
    assert alert.recipients == [{"id": "bsmith", "recipientType": "PERSON"},
                                {"id": "Database Team", "recipientType": "GROUP"}]
    assert notified_by_path(run_jobs, team) == ["/bsmith", "/jdoe"]  # jdoe as the group's first member


def test_query_parameters_fill_only_what_the_body_lacks(api, client):
    cfg = config_for(api)
    response = client.post(integration_path(cfg) + "&subject=From+the+query&message=From+the+query",
                           data=json.dumps({"subject": "From the body"}), content_type="application/json")
    alert = stored(response.get_json())
    assert (alert.subject, alert.message) == ("From the body", "From the query")


def notified_by_path(run_jobs, receiver) -> list[str]:
    drive(run_jobs, lambda: len(receiver.requests) >= 2)
    return sorted(r["path"] for r in receiver.requests)


def test_servicenow_escalation_override_pages_the_whole_group_at_once(api, client, team, run_jobs):
    cfg = config_for(api)
    response = post_raw(client, cfg, raw("xm_servicenow.json"), "application/json")
    assert response.status_code == 202, response.get_json()
    answer = response.get_json()
    assert answer["unresolvedRecipients"] == ["Service Desk Rota"]  # a DYNAMIC_TEAM Klaxon does not have
    assert answer["ignoredFields"] == ["overrideDeviceRestrictions", "requirePhonePassword", "bypassPhoneIntro",
                                       "voicemailOptions", "conference"]
    alert = stored(answer)
    assert alert.escalation_override is True
    assert alert.recipients == [{"id": "Database Team", "recipientType": "GROUP"}]
    number = alert.id
    drive(run_jobs, lambda: notified(number) == ["bsmith", "jdoe"])  # both members now, not jdoe then bsmith


def test_without_escalation_override_the_group_escalates_in_order(api, client, team, run_jobs):
    body = json.loads(raw("xm_servicenow.json"))
    body["escalationOverride"] = False
    alert = stored(send_alert(client, config_for(api), body).get_json())
    number = alert.id
    drive(run_jobs, lambda: notified(number) == ["jdoe"])


@pytest.mark.parametrize("recipients", [
    [{"id": "ghost", "recipientType": "DYNAMIC_TEAM"}],
    [{"id": "4b3f9a7e-2c1d-4e5f-8a9b-0c1d2e3f4a5b", "recipientType": "DEVICE"}],
    [{"id": "4b3f9a7e-2c1d-4e5f-8a9b-0c1d2e3f4a5b"}],
    ["ghost"],
])
def test_a_recipient_that_matches_nothing_is_unresolved_not_a_400(api, client, recipients):
    response = send_alert(client, config_for(api), {"recipients": recipients})
    assert response.status_code == 202, response.get_json()
    answer = response.get_json()
    name = recipients[0] if isinstance(recipients[0], str) else recipients[0]["id"]
    assert answer["unresolvedRecipients"] == [name]
    assert answer["warnings"] == [f"None of this alert's recipients ({name!r}) is a user, group or device in "
                                  "Klaxon, so no one will be notified."]


def test_bare_names_and_target_names_resolve_like_ids(api, client, team):
    response = send_alert(client, config_for(api), {"recipients": [
        "bsmith", {"targetName": "jdoe"}, {"id": "7a3c1e2b-9f8d-4c6b-a5e4-d3c2b1a09f8e", "targetName": "bsmith"}]})
    answer = response.get_json()
    assert response.status_code == 202 and "unresolvedRecipients" not in answer and "warnings" not in answer
    assert stored(answer).recipients == [{"id": "bsmith", "recipientType": "PERSON"},
                                         {"id": "jdoe", "recipientType": "PERSON"},
                                         {"id": "bsmith", "recipientType": "PERSON"}]


def test_an_alert_with_no_recipients_says_so_in_warnings(api, client):
    answer = send_alert(client, config_for(api), {"subject": "Nobody"}).get_json()
    assert answer["warnings"] == [NOTIFIES_NOBODY]


def test_the_configuration_screens_sample_payload_still_has_no_warnings_or_ignored_fields(api, client, team):
    cfg = config_for(api, recipients=[{"id": "bsmith", "recipientType": "PERSON"}])
    answer = send_alert(client, cfg, json.loads(raw("webhook_trigger.json"))).get_json()
    assert "ignoredFields" not in answer and "warnings" not in answer
