"""Keys and secrets never reach the log: a live Klaxon at DEBUG is driven through every way a
secret travels (API key in the query, header and Basic auth, wrong keys, the bearer token, the
signing secret and its rotation, SMTP with a password, a device URL holding a token), then the
whole captured serve log is searched for each secret."""
import base64
import secrets

import pytest
import requests

from tests.reliability.faults import AuthSmtpServer
from tests.support import Receiver, integration_path, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]


def integration(klaxon, cfg):
    return klaxon.url + integration_path(cfg, key=False)


def post_every_way(klaxon, cfg, wrong_key):
    """The key as ?apiKey=, X-Api-Key and Basic password, and a wrong key each way; 202s and 401s."""
    url, body = integration(klaxon, cfg), {"subject": "secret check"}
    basic = lambda key: "Basic " + base64.b64encode(f"x:{key}".encode()).decode()  # noqa: E731
    for key, expect in ((cfg["apiKey"], 202), (wrong_key, 401)):
        assert requests.post(f"{url}?apiKey={key}", json=body, timeout=10).status_code == expect
        assert requests.post(url, json=body, headers={"X-Api-Key": key}, timeout=10).status_code == expect
        assert requests.post(url, json=body, headers={"Authorization": basic(key)}, timeout=10).status_code == expect


def test_no_key_or_secret_appears_in_the_serve_log(site, figures):
    smtp_password, device_token, wrong_key, wrong_bearer = (secrets.token_urlsafe(18) for _ in range(4))
    with AuthSmtpServer("klaxon", smtp_password) as smtp, Receiver() as receiver:
        klaxon = site(env={"KLAXON_LOG_LEVEL": "DEBUG",
                           "KLAXON_SMTP_URL": f"smtp://klaxon:{smtp_password}@127.0.0.1:{smtp.port}"}, workers=1)
        klaxon.user("bsmith", [("email", "Work Email", "bsmith@example.com"),
                               ("webhook", "Hook", f"http://127.0.0.1:9/hook?token={device_token}")])
        cfg = klaxon.configuration(updates={"status": f"{receiver.url}/status"}, recipients=["bsmith"])
        post_every_way(klaxon, cfg, wrong_key)
        rotated = klaxon.call("POST", f"/api/v1/configurations/{cfg['uuid']}/rotate-secret", expect=200).json()
        renewed = klaxon.call("POST", f"/api/v1/configurations/{cfg['uuid']}/regenerate-key", expect=200).json()
        post_every_way(klaxon, {**cfg, "apiKey": renewed["apiKey"]}, cfg["apiKey"])
        assert requests.get(f"{klaxon.url}/api/v1/users", headers={"Authorization": f"Bearer {wrong_bearer}"},
                            timeout=10).status_code == 401
        wait_until(lambda: len(smtp.messages) >= 2 and len(receiver.requests) >= 2, 60, interval=0.3,
                   message="emails and signed updates out")
        klaxon.server.stop()  # every process flushed its last line
    log = klaxon.server.log_text()
    found = {"API key": cfg["apiKey"], "regenerated API key": renewed["apiKey"], "wrong API key": wrong_key,
             "signing secret": cfg["signingSecret"], "rotated signing secret": rotated["signingSecret"],
             "bearer token": klaxon.token, "wrong bearer token": wrong_bearer, "SMTP password": smtp_password,
             "device URL token": device_token, "secret key": klaxon.server.env["KLAXON_SECRET_KEY"]}
    for name, value in found.items():
        assert value and len(value) >= 12, f"{name} is not a usable probe: {value!r}"
        for piece in {value, value.removeprefix("whsec_")}:
            assert piece not in log, f"the {name} is in the serve log"
    assert "apiKey=" not in log, "a query string with the key was logged"
    assert any(smtp.logins), "the SMTP password was never used"
    figures.update(log_lines=log.count("\n"), secrets_checked=len(found), emails=len(smtp.messages),
                   signed_updates=len(receiver.requests))
