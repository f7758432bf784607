"""The configuration screen: save through alerting.configurations, errors beside fields, updates in place."""
import json

import pytest

from tests.conftest import csrf_from

HTMX = {"HX-Request": "true"}


@pytest.fixture
def token(admin_client):
    return csrf_from(admin_client.get("/alerts").get_data(as_text=True))


@pytest.fixture
def people(app):
    from alerting import people as directory
    from extensions import db

    directory.create_user({"username": "bsmith", "name": "Bob Smith"})
    directory.create_group({"name": "Database Team", "members": ["bsmith"]})
    db.session.commit()


def settings_form(token, **overrides):
    form = {"csrf_token": token, "template": "webhook", "name": "Monitoring", "description": "Prod alerts",
            "senderName": "Prod Monitoring", "priority": "HIGH", "enabled": "on",
            "recipient": ["PERSON:bsmith", "GROUP:Database Team"],
            "option_text": ["Acknowledge", "Resolve"], "option_action": ["STOP_NOTIFYING_USER", "END"],
            "option_description": ["", "Close the alert"], "rateLimitPerMinute": "600", "dedupWindowMinutes": "1440"}
    form.update(overrides)
    return form


def only_configuration():
    from models import Configuration

    return Configuration.query.one()


def test_it_creates_a_configuration_and_shows_url_payload_and_curl(admin_client, token, people):
    response = admin_client.post("/integrations/new", data=settings_form(token))
    assert response.status_code == 302
    cfg = only_configuration()
    assert (cfg.name, cfg.sender_name, cfg.priority) == ("Monitoring", "Prod Monitoring", "HIGH")
    assert cfg.recipients == [{"id": "bsmith", "recipientType": "PERSON"},
                              {"id": "Database Team", "recipientType": "GROUP"}]
    assert [o["text"] for o in cfg.response_options] == ["Acknowledge", "Resolve"]
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"/api/integration/1/functions/{cfg.uuid}/triggers?apiKey={cfg.api_key}" in page
    assert "curl -X POST" in page and "&#34;Disk full on db-1&#34;" in page
    assert "Bob Smith (bsmith)" in page and "Database Team" in page
    assert f'href="/integrations/{cfg.uuid}/flows/"' in page


def test_it_shows_field_errors_and_keeps_the_input(admin_client, token, people):
    response = admin_client.post("/integrations/new", data=settings_form(token, name="  ", description="keep <me>"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Must not be empty" in page and "keep &lt;me&gt;" in page
    assert 'value="Prod Monitoring"' in page and 'value="GROUP:Database Team"' in page
    from models import Configuration

    assert Configuration.query.count() == 0


def test_a_bad_response_option_is_marked_on_its_row(admin_client, token):
    form = settings_form(token, recipient=[], option_text=["Ack", "ack"], option_action=["END", "END"],
                         option_description=["", ""])
    page = admin_client.post("/integrations/new", data=form).get_data(as_text=True)
    assert "is listed twice" in page and 'value="ack"' in page


def test_an_unknown_recipient_is_named(admin_client, token):
    page = admin_client.post("/integrations/new", data=settings_form(token, recipient=["PERSON:ghost"]))
    assert "No person named &#39;ghost&#39;" in page.get_data(as_text=True)


def test_a_rate_limit_that_is_not_a_number_is_refused_by_the_shared_validator(admin_client, token, people):
    page = admin_client.post("/integrations/new", data=settings_form(token, rateLimitPerMinute="lots"))
    assert "Must be a whole number" in page.get_data(as_text=True)


def test_saving_settings_changes_only_what_the_form_holds(admin_client, token, people):
    admin_client.post("/integrations/new", data=settings_form(token))
    cfg = only_configuration()
    response = admin_client.post(f"/integrations/{cfg.uuid}", data=settings_form(
        token, name="Renamed", recipient=["PERSON:bsmith"], option_text=[""], option_action=["END"],
        option_description=[""]))
    assert response.status_code == 302
    cfg = only_configuration()
    assert cfg.name == "Renamed" and cfg.template == "webhook" and cfg.response_options == []
    assert cfg.recipients == [{"id": "bsmith", "recipientType": "PERSON"}]


def create(admin_client, token, **overrides):
    admin_client.post("/integrations/new", data=settings_form(token, recipient=[], **overrides))
    return only_configuration()


def test_updates_save_in_place_and_show_the_section(admin_client, token, receiver):
    cfg = create(admin_client, token)
    response = admin_client.post(f"/integrations/{cfg.uuid}/updates", headers=HTMX, data={
        "csrf_token": token, "delivery_enabled": "on", "delivery_url": receiver.url + "/delivery",
        "status_url": receiver.url + "/status", "includeSubjectAndMessage": "on"})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="updates"' in fragment and "<html" not in fragment
    assert "Saved" in fragment
    cfg = only_configuration()
    assert cfg.endpoint("delivery").enabled and cfg.endpoint("delivery").url == receiver.url + "/delivery"
    assert not cfg.endpoint("status").enabled and cfg.endpoint("status").url == receiver.url + "/status"
    assert cfg.include_subject_and_message


@pytest.mark.parametrize("url, message", [("not a url", "url"), ("http://169.254.169.254/latest", "169.254")])
def test_a_refused_update_url_is_shown_beside_its_field(admin_client, token, url, message):
    cfg = create(admin_client, token)
    response = admin_client.post(f"/integrations/{cfg.uuid}/updates", headers=HTMX, data={
        "csrf_token": token, "status_enabled": "on", "status_url": url})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "Not saved" in fragment
    row = fragment[fragment.index('id="update-status"'):fragment.index('id="update-delivery"')]
    assert 'class="update-row has-error" id="update-status"' in fragment
    assert 'class="error"' in row and message in row
    assert f'value="{url}"' in row
    assert not only_configuration().endpoint("status").enabled


def test_a_ticked_update_needs_a_url(admin_client, token):
    cfg = create(admin_client, token)
    fragment = admin_client.post(f"/integrations/{cfg.uuid}/updates", headers=HTMX, data={
        "csrf_token": token, "response_enabled": "on"}).get_data(as_text=True)
    assert "Is required when the update type is enabled" in fragment


def test_rotating_the_secret_keeps_the_old_one_signing(admin_client, token):
    cfg = create(admin_client, token)
    old = cfg.signing_secrets[0]["secret"]
    fragment = admin_client.post(f"/integrations/{cfg.uuid}/secret", headers=HTMX,
                                 data={"csrf_token": token}).get_data(as_text=True)
    cfg = only_configuration()
    assert len(cfg.signing_secrets) == 2 and cfg.signing_secrets[0]["secret"] != old
    assert f'value="{cfg.signing_secrets[0]["secret"]}"' in fragment and "older secret" in fragment


def test_regenerating_the_key_changes_the_url(admin_client, token):
    cfg = create(admin_client, token)
    old = cfg.api_key
    admin_client.post(f"/integrations/{cfg.uuid}/key", data={"csrf_token": token})
    assert only_configuration().api_key != old


def test_send_test_alert_makes_an_alert_through_the_trigger_parser(admin_client, token):
    from models import Alert

    cfg = create(admin_client, token)
    for _ in range(2):
        fragment = admin_client.post(f"/integrations/{cfg.uuid}/test", headers=HTMX,
                                     data={"csrf_token": token}).get_data(as_text=True)
    alerts = Alert.query.order_by(Alert.id).all()
    assert len(alerts) == 2, "each test alert is new, never a duplicate"
    assert alerts[0].subject == "Test: Disk full on db-1" and alerts[0].properties["Host"] == "db-1"
    assert alerts[0].priority == "HIGH"
    assert f'href="/alerts/{alerts[1].id}"' in fragment and "<html" not in fragment


def test_a_disabled_configuration_sends_no_test_alert(admin_client, token):
    from models import Alert

    cfg = create(admin_client, token, enabled="")
    fragment = admin_client.post(f"/integrations/{cfg.uuid}/test", headers=HTMX,
                                 data={"csrf_token": token}).get_data(as_text=True)
    assert "disabled" in fragment and Alert.query.count() == 0


def test_recipient_search_finds_users_and_groups_and_skips_chosen_ones(admin_client, people):
    found = admin_client.get("/integrations/recipients?q=b", headers=HTMX).get_data(as_text=True)
    assert "Bob Smith (bsmith)" in found and "Database Team" in found
    fewer = admin_client.get("/integrations/recipients?q=b&recipient=PERSON:bsmith", headers=HTMX)
    assert "Bob Smith" not in fewer.get_data(as_text=True)
    none = admin_client.get("/integrations/recipients?q=zz", headers=HTMX).get_data(as_text=True)
    assert "No user or group matches" in none


def test_a_chip_carries_the_recipient_and_clears_the_search(admin_client, people):
    chip = admin_client.get("/integrations/recipients/chip?type=GROUP&id=Database%20Team",
                            headers=HTMX).get_data(as_text=True)
    assert 'name="recipient" value="GROUP:Database Team"' in chip
    assert chip.count('hx-swap-oob="true"') == 2


def test_an_added_option_row_is_blank(admin_client):
    row = admin_client.get("/integrations/option-row", headers=HTMX).get_data(as_text=True)
    assert 'name="option_text" value=""' in row and 'name="option_action"' in row


def test_the_sample_payload_is_valid_json(admin_client, token):
    import html
    import re

    cfg = create(admin_client, token)
    page = admin_client.get(f"/integrations/{cfg.uuid}").get_data(as_text=True)
    sample = re.search(r'<pre id="sample-payload">(.*?)</pre>', page, re.S).group(1)
    assert json.loads(html.unescape(sample))["subject"] == "Disk full on db-1"


def test_a_custom_mapping_is_previewed_on_a_sample_before_saving(admin_client, token):
    page = admin_client.get("/integrations/new?template=custom").get_data(as_text=True)
    assert 'name="customMapping"' in page and 'name="mappingSample"' in page
    fragment = admin_client.post("/integrations/mapping-preview", headers=HTMX, data={
        "csrf_token": token, "customMapping": '{"subject": "{{ payload.title }}", "priority": "HIGH"}',
        "mappingSample": '{"title": "<b>Disk</b> full"}'}).get_data(as_text=True)
    assert "&#34;subject&#34;: &#34;&lt;b&gt;Disk&lt;/b&gt; full&#34;" in fragment and "<b>" not in fragment
    broken = admin_client.post("/integrations/mapping-preview", headers=HTMX, data={
        "csrf_token": token, "customMapping": '{"priority": "{{ payload.level }}"}',
        "mappingSample": '{"level": "urgent"}'}).get_data(as_text=True)
    assert 'class="error"' in broken and "priority" in broken
    not_json = admin_client.post("/integrations/mapping-preview", headers=HTMX, data={
        "csrf_token": token, "customMapping": "{}", "mappingSample": "{oops"}).get_data(as_text=True)
    assert "Sample payload:" in not_json
