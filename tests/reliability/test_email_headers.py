"""A configuration's sender name is only ever the display name of an email's From: names written
to look like addresses, lists, encoded words or comments never change who the email is from, by
the envelope or by the header, read by a strict (policy.default) or a lenient (getaddresses) parser."""
import re
from email.utils import getaddresses

import pytest

from tests.mail import FROM, smtp_env
from tests.support import send_alert

NAMES = ['"Bank" <ceo@bank.example>', "Bank <ceo@bank.example>", 'Ünïcode "CEO" <ceo@bank.example>',
         "=?utf-8?q?ceo=40bank=2Eexample?= <ceo@bank.example>", "Bank, ceo@bank.example",
         "Ops (ceo@bank.example)", "Back\\slash\" <ceo@bank.example>", "Ops; ceo@bank.example:;",
         "x" * 150 + ' "Bank" <ceo@bank.example>', "Ü" * 60 + " Bank <ceo@bank.example>, evil@example.com"]


@pytest.fixture
def settings_env(smtp_server):
    return smtp_env(smtp_server, f"Klaxon <{FROM}>")


def raw_header(email, name):
    (line,) = [v for k, v in email._headers if k.lower() == name.lower()]  # as sent, before any parsing
    return re.sub(r"\r?\n[ \t]", " ", str(line))


@pytest.mark.parametrize("sender_name", NAMES)
def test_the_sender_name_never_changes_the_from_address(api, client, run_jobs, smtp_server, sender_name):
    user = api.post("/api/v1/users", json={"username": "bsmith", "devices": [
        {"name": "Work Email", "kind": "email", "target": "bsmith@example.com"}]})
    assert user.status_code == 201, user.get_json()
    cfg = api.post("/api/v1/configurations", json={
        "template": "webhook", "name": "Spoof", "senderName": sender_name,
        "recipients": [{"id": "bsmith", "recipientType": "PERSON"}]}).get_json()
    assert cfg["senderName"] == sender_name
    response = send_alert(client, cfg, {"subject": "wire the money"})
    assert response.status_code == 202
    run_jobs()
    (sent,) = smtp_server.wait_for(1)
    assert sent["from"] == FROM, "envelope sender"
    assert sent["to"] == ["bsmith@example.com"]
    email = sent["email"]
    (address,) = email["From"].addresses
    assert address.addr_spec == FROM and address.display_name == sender_name
    header = raw_header(email, "From")
    assert [a for _, a in getaddresses([header])] == [FROM], f"a lenient parser reads {getaddresses([header])} from {header!r}"
    assert header.startswith(('"', "=?utf-8?")), f"the display name is neither quoted nor encoded: {header!r}"
    assert sender_name in email["Subject"] or "=?" in sender_name  # readers decode encoded words in a Subject
