"""A configuration made by the API defaults like the dashboard, the sample makes a new alert each time,
and the alert page says plainly when nobody will be notified (issue 19, items 4 and 5)."""
from alerting.configurations import with_ids
from tests.support import make_config, send_alert


def test_an_api_configuration_gets_acknowledge_and_resolve_with_ids_and_numbers(api):
    cfg = make_config(api)
    options = cfg["responseOptions"]
    assert [(o["text"], o["action"]) for o in options] == [("Acknowledge", "STOP_NOTIFYING_USER"), ("Resolve", "END")]
    assert [o["number"] for o in options] == [1, 2]
    assert all(isinstance(o["id"], str) and len(o["id"]) >= 8 for o in options)
    assert options[0]["id"] != options[1]["id"]


def test_option_ids_and_numbers_stay_when_options_change(api):
    cfg = make_config(api, responseOptions=[{"text": "Ack", "action": "STOP_NOTIFYING_USER"},
                                            {"text": "Fixed", "action": "END"}])
    before = {o["text"]: (o["id"], o["number"]) for o in cfg["responseOptions"]}
    changed = api.patch(f"/api/v1/configurations/{cfg['uuid']}", json={"responseOptions": [
        {"text": "Fixed", "action": "END"}, {"text": "Escalate", "action": "ESCALATE"}, {"text": "Ack"}]})
    assert changed.status_code == 200, changed.get_json()
    after = {o["text"]: (o["id"], o["number"]) for o in changed.get_json()["responseOptions"]}
    assert after["Fixed"] == before["Fixed"] and after["Ack"] == before["Ack"]
    assert after["Escalate"][1] == 3 and after["Escalate"][0] not in {i for i, _n in before.values()}


def test_with_ids_numbers_new_options_after_the_highest():
    kept = with_ids([{"text": "A"}, {"text": "B"}], [])
    again = with_ids([{"text": "b"}, {"text": "C"}], kept)
    assert [o["number"] for o in again] == [2, 3] and again[0]["id"] == kept[1]["id"]


def test_explicitly_no_options_stays_empty(api):
    assert make_config(api, responseOptions=[])["responseOptions"] == []


def test_the_sample_payload_makes_a_new_alert_each_time(api, client):
    cfg = make_config(api)
    sample = cfg["samplePayload"]
    assert "dedupKey" not in sample
    first = send_alert(client, cfg, sample).get_json()
    second = send_alert(client, cfg, sample).get_json()
    assert first["eventIdentifier"] != second["eventIdentifier"]


def test_the_dashboard_explains_the_sample_has_no_dedup_key(api, admin_client):
    cfg = make_config(api)
    page = admin_client.get(f"/integrations/{cfg['uuid']}").get_data(as_text=True)
    assert 'id="sample-note"' in page and "every send makes a new alert" in page
    assert '"dedupKey"' not in page.split('id="sample-payload"')[1].split("</pre>")[0]


def test_the_alert_page_says_plainly_that_nobody_will_be_notified(api, admin_client, client):
    cfg = make_config(api)
    event = send_alert(client, cfg, {"subject": "Disk full"}).get_json()["eventIdentifier"]
    page = admin_client.get(f"/alerts/{event}").get_data(as_text=True)
    assert 'id="nobody-notified"' in page and "Nobody will be notified" in page
