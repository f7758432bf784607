"""The Updates tab's "Send test update": a signed sample to that URL, the result shown in place
(issue 19, item 11)."""
from alerting.configurations import active_secrets
from extensions import db
from models import Configuration
from tests.conftest import csrf_from
from tests.support import Receiver, make_config, verified

HTMX = {"HX-Request": "true"}


def test_a_test_update_is_signed_like_a_real_one_and_the_result_shows_in_place(api, admin_client):
    cfg = make_config(api)
    page = admin_client.get(f"/integrations/{cfg['uuid']}/updates").get_data(as_text=True)
    assert 'id="test-status"' in page and "Send test update" in page
    token = csrf_from(page)
    with Receiver() as receiver:
        answer = admin_client.post(f"/integrations/{cfg['uuid']}/updates/status/test", headers=HTMX,
                                   data={"csrf_token": token, "status_url": receiver.url + "/status"})
        request = receiver.wait_for(1, path="/status")[0]
    text = answer.get_data(as_text=True)
    assert "Sent" in text and "HTTP 200" in text
    secret = active_secrets(db.session.query(Configuration).filter_by(uuid=cfg["uuid"]).one())[0]
    body = verified(request, secret)  # the Standard Webhooks signature checks out
    assert body["test"] is True and body["updateType"] == "status" and "eventIdentifier" not in body


def test_an_unreachable_url_says_what_went_wrong(api, admin_client):
    from tests.support import free_port

    cfg = make_config(api)
    token = csrf_from(admin_client.get(f"/integrations/{cfg['uuid']}/updates").get_data(as_text=True))
    answer = admin_client.post(f"/integrations/{cfg['uuid']}/updates/delivery/test", headers=HTMX, data={
        "csrf_token": token, "delivery_url": f"http://127.0.0.1:{free_port()}/x"}).get_data(as_text=True)
    assert "Failed" in answer and "connection_refused" in answer


def test_no_url_no_request(api, admin_client):
    cfg = make_config(api)
    token = csrf_from(admin_client.get(f"/integrations/{cfg['uuid']}/updates").get_data(as_text=True))
    answer = admin_client.post(f"/integrations/{cfg['uuid']}/updates/response/test", headers=HTMX,
                               data={"csrf_token": token}).get_data(as_text=True)
    assert "Type a URL first." in answer
