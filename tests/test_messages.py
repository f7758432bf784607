"""Notification messages: subject line, plain text, HTML (escaped), webhook and Apprise bodies."""
from __future__ import annotations

import json

import pytest

from alerting.notifications.messages import apprise_body, build_message, render_html, render_text, webhook_device_body

SCRIPT = "<script>alert(1)</script>"


def make(**overrides):
    fields = {
        "sender_name": "Prod Monitoring", "subject": "Disk full on db-1", "message": "Free space fell below 5%",
        "priority": "HIGH", "event_identifier": 869000, "alert_id": "7d3a1c2e-0000-4000-8000-000000000001",
        "properties": {"Host": "db-1", "Free": 4.5, "Tags": ["db", "disk"]},
        "response_links": [("Acknowledge", None, "https://klaxon.test/respond/tok-ack"),
                        {"text": "Resolve", "description": "Close the alert",
                         "url": "https://klaxon.test/respond/tok-end"}],
        "alert_url": "https://klaxon.test/alerts/869000", "recipient": "bsmith", "device_name": "Work Email"}
    fields.update(overrides)
    return build_message(**fields)


def test_it_builds_the_subject_line_from_priority_sender_and_subject():
    assert make().subject_line == "[HIGH] Prod Monitoring: Disk full on db-1"


def test_it_upper_cases_the_priority_and_defaults_it_to_medium():
    assert make(priority="low").subject_line.startswith("[LOW] ")
    assert make(priority=None).priority == "MEDIUM"


def test_it_keeps_line_breaks_out_of_the_subject_line():
    msg = make(subject="Disk full\r\nBcc: victim@example.com", sender_name="Prod\nMonitoring")
    assert "\n" not in msg.subject_line and "\r" not in msg.subject_line
    assert msg.subject_line == "[HIGH] Prod Monitoring: Disk full Bcc: victim@example.com"


def test_it_keeps_the_properties_in_the_order_received():
    msg = make(properties={"Zeta": 1, "Alpha": 2, "Mid": 3})
    assert list(msg.properties) == ["Zeta", "Alpha", "Mid"]
    text = render_text(msg)
    assert text.index("Zeta: 1") < text.index("Alpha: 2") < text.index("Mid: 3")


def test_the_text_has_the_subject_message_number_properties_and_links():
    text = render_text(make())
    assert text.startswith("[HIGH] Prod Monitoring: Disk full on db-1\n")
    assert "Free space fell below 5%" in text
    assert "Alert #869000" in text
    assert "Host: db-1" in text and "Free: 4.5" in text and 'Tags: ["db", "disk"]' in text
    respond = text.split("Respond:\n", 1)[1]
    assert "Acknowledge: https://klaxon.test/respond/tok-ack" in respond
    assert "Resolve: https://klaxon.test/respond/tok-end" in respond
    assert "Close the alert" in respond
    assert "https://klaxon.test/alerts/869000" in text


def test_the_text_leaves_out_sections_that_are_empty():
    text = render_text(make(message="", properties={}, response_links=[], alert_url=None))
    assert "Respond:" not in text and "View alert" not in text
    assert "Alert #869000" in text


def test_the_html_has_the_message_properties_number_and_one_button_per_option():
    html = render_html(make())
    assert "Free space fell below 5%" in html
    assert "Alert #869000" in html
    assert ">Host</td>" in html and "db-1" in html
    assert html.count('href="https://klaxon.test/respond/') == 2
    assert ">Acknowledge</a>" in html and ">Resolve</a>" in html
    assert "#c0392b" in html  # the HIGH badge colour


@pytest.mark.parametrize("where", ["subject", "message", "sender_name", "property key", "property value",
                                   "response text", "recipient"])
def test_the_html_escapes_everything_user_supplied(where):
    overrides = {
        "subject": {"subject": SCRIPT}, "message": {"message": SCRIPT}, "sender_name": {"sender_name": SCRIPT},
        "property key": {"properties": {SCRIPT: "v"}}, "property value": {"properties": {"Host": SCRIPT}},
        "response text": {"response_links": [(SCRIPT, SCRIPT, "https://klaxon.test/respond/t")]},
        "recipient": {"recipient": SCRIPT, "device_name": SCRIPT},
    }[where]
    html = render_html(make(**overrides))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_html_keeps_line_breaks_of_the_message_as_br():
    html = render_html(make(message="line one\n<b>line two</b>"))
    assert "line one<br>\n&lt;b&gt;line two&lt;/b&gt;" in html


def test_the_html_refuses_links_that_are_not_web_links():
    html = render_html(make(response_links=[("Click", None, "javascript:alert(1)")], alert_url="data:text/html,x"))
    assert "javascript:" not in html and "data:text" not in html


def test_the_webhook_body_has_every_field_in_camel_case():
    body = webhook_device_body(make())
    assert body == {
        "eventIdentifier": 869000,
        "alertId": "7d3a1c2e-0000-4000-8000-000000000001",
        "subject": "Disk full on db-1",
        "subjectLine": "[HIGH] Prod Monitoring: Disk full on db-1",
        "message": "Free space fell below 5%",
        "priority": "HIGH",
        "senderName": "Prod Monitoring",
        "properties": {"Host": "db-1", "Free": 4.5, "Tags": ["db", "disk"]},
        "recipient": "bsmith",
        "device": "Work Email",
        "responses": [
            {"text": "Acknowledge", "description": None, "url": "https://klaxon.test/respond/tok-ack"},
            {"text": "Resolve", "description": "Close the alert", "url": "https://klaxon.test/respond/tok-end"},
        ],
        "alertUrl": "https://klaxon.test/alerts/869000",
    }
    assert list(json.loads(json.dumps(body))["properties"]) == ["Host", "Free", "Tags"]


def test_the_apprise_body_is_short_and_has_properties_and_links():
    title, body = apprise_body(make(message="x" * 5000))
    assert title == "[HIGH] Prod Monitoring: Disk full on db-1"
    assert len(body) < 1500
    assert "Host: db-1" in body and "Alert #869000" in body
    assert "Acknowledge: https://klaxon.test/respond/tok-ack" in body
