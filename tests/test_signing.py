"""Standard Webhooks signatures: what receivers verify with the standardwebhooks library."""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from alerting.update_webhooks.signing import new_secret, sign_headers

BODY = '{"eventIdentifier":869000,"status":"active","username":null}'


def test_a_new_secret_is_whsec_and_32_random_bytes():
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_the_headers_verify_with_the_standard_library():
    secret = new_secret()
    headers = sign_headers("msg_1", BODY, [secret])
    assert Webhook(secret).verify(BODY, headers) == {"eventIdentifier": 869000, "status": "active", "username": None}


def test_the_signature_is_hmac_sha256_of_id_timestamp_and_body():
    secret = new_secret()
    now = datetime(2024, 5, 1, 12, 0, 0, 900000, tzinfo=UTC)
    headers = sign_headers("msg_2", BODY, [secret], now)
    assert headers["webhook-id"] == "msg_2"
    assert headers["webhook-timestamp"] == "1714564800"
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"msg_2.1714564800.{BODY}".encode(), hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()


def test_a_naive_time_is_taken_as_utc_and_an_aware_one_is_converted():
    naive = sign_headers("m", BODY, [new_secret()], datetime(2024, 5, 1, 12, 0, 0))
    paris = timezone(timedelta(hours=2))
    aware = sign_headers("m", BODY, [new_secret()], datetime(2024, 5, 1, 14, 0, 0, tzinfo=paris))
    assert naive["webhook-timestamp"] == aware["webhook-timestamp"] == "1714564800"


def test_during_rotation_both_secrets_verify():
    new, old = new_secret(), new_secret()
    headers = sign_headers("msg_3", BODY, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert all(part.startswith("v1,") for part in headers["webhook-signature"].split(" "))
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)


def test_another_secret_or_a_changed_body_does_not_verify():
    secret = new_secret()
    headers = sign_headers("msg_4", BODY, [secret])
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("active", "terminated"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, dict(headers, **{"webhook-id": "msg_5"}))


def test_bytes_and_text_bodies_sign_alike():
    secret, now = new_secret(), datetime.now(UTC)
    body = '{"subject":"Disk full — db-1"}'
    assert sign_headers("m", body.encode(), [secret], now) == sign_headers("m", body, [secret], now)
    Webhook(secret).verify(body.encode(), sign_headers("m", body.encode(), [secret], now))


def test_it_needs_a_secret():
    with pytest.raises(ValueError, match="signing secret"):
        sign_headers("m", BODY, [])
