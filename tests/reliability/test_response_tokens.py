"""Response links: a forged token (tampered, signed with another key or for another purpose, or
not a token at all) records nothing; a used link cannot be replayed; a link of an expired alert
records nothing."""
from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer

from extensions import db
from models import Alert, Notification, Response, utcnow
from tests.conftest import csrf_from


def responses():
    db.session.expire_all()
    return db.session.query(Response).count()


def confirm(client, path, comment="ok"):
    """GET the confirm page, then POST it with a valid CSRF token; return (GET status, POST status)."""
    page = client.get(path)
    # a refused link shows no form: take the session's token from the sign-in page, so the POST
    # is judged on its response token, not refused for want of a CSRF token
    html = page.get_data(as_text=True) if page.status_code == 200 else client.get("/login").get_data(as_text=True)
    return page.status_code, client.post(path, data={"csrf_token": csrf_from(html), "comment": comment}).status_code


def flipped(signature):
    """The signature with its middle character changed. Every bit of a middle base64 character is
    signature; the last character's low bits are padding, so changing only those forged nothing."""
    middle = len(signature) // 2
    return signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1:]


def forgeries(app, token):
    notification_id = db.session.query(Notification.id).scalar()
    payload, _, signature = token.rpartition(".")
    other_key = URLSafeTimedSerializer("not-this-klaxons-key", salt="klaxon.respond")
    other_salt = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token")
    _body, _, stamp = payload.rpartition(".")
    tampered_body = URLSafeTimedSerializer("x").dump_payload([notification_id, 1]).decode()
    return {
        "a flipped signature character": f"{payload}.{flipped(signature)}",
        "another option under the same signature": f"{tampered_body}.{stamp}.{signature}",
        "signed with another key": other_key.dumps([notification_id, 0]),
        "signed for another purpose": other_salt.dumps([notification_id, 0]),
        "no signature": payload,
        "not a token": "respond-please",
    }


def test_forged_tokens_record_nothing(app, client, seeded):
    for name, forged in forgeries(app, seeded["token"]).items():
        assert confirm(client, f"/respond/{forged}") == (400, 400), name
    assert responses() == 0


def test_a_used_link_cannot_be_replayed(client, seeded):
    assert confirm(client, seeded["link_path"]) == (200, 200)
    assert responses() == 1
    assert confirm(client, seeded["link_path"], comment="again") == (410, 410)
    assert responses() == 1
    # SPEC §3: another option of the same message is a new response, once
    assert confirm(client, seeded["other_link_path"]) == (200, 200)
    assert confirm(client, seeded["other_link_path"], comment="again") == (410, 410)
    assert responses() == 2


@pytest.mark.parametrize("how", ["expired", "ended"])
def test_a_link_of_an_expired_or_ended_alert_records_nothing(client, seeded, how):
    alert = db.session.get(Alert, seeded["event_id"])
    if how == "expired":
        alert.expires_at = utcnow() - timedelta(seconds=1)  # the sweeper has not got to it yet
    else:
        alert.status = "TERMINATED"
    db.session.commit()
    assert confirm(client, seeded["link_path"]) == (410, 410)
    assert responses() == 0
