"""A signed-in responder reaches the alerts (to see and act on them) and nothing else of the
dashboard: every other page and form, with real ids and a valid CSRF token, answers 403 and
changes nothing. The list of what a responder may open is this test's, not the code's."""
from extensions import db
from models import User
from tests.conftest import csrf_from, login

RESPONDER_MAY = {"dashboard.index", "dashboard.alerts", "dashboard.alert_rows", "dashboard.alert_detail",
                 "dashboard.alert_activity", "dashboard.alert_comment", "dashboard.alert_status",
                 "dashboard.alert_respond",
                 # their own on-call: a group's calendar, covering for themselves, their own feed
                 # (that they may add and delete only their own overrides: tests/test_dashboard_oncall.py)
                 "dashboard.group_page", "dashboard.delete_override", "dashboard.regenerate_user_feed"}


def test_a_responder_cannot_reach_admin_pages_or_forms(app, routes, seeded, fingerprint, app_errors, figures):
    user = db.session.query(User).filter_by(username="bsmith").one()
    user.set_password("responder password")
    db.session.commit()
    responder = app.test_client()
    assert login(responder, "bsmith", "responder password").status_code == 302
    token = csrf_from(responder.get("/alerts").get_data(as_text=True))
    before, reached, checked = fingerprint(), [], 0
    for endpoint, method, url in routes:
        if not endpoint.startswith("dashboard.") or endpoint in RESPONDER_MAY:
            continue
        response = responder.open(url, method=method, data={"csrf_token": token, "name": "taken over"},
                                  headers={"X-CSRFToken": token})
        checked += 1
        if response.status_code != 403:
            reached.append(f"{method} {url} ({endpoint}) -> {response.status_code}")
    assert not reached, "a responder reached:\n" + "\n".join(reached)
    assert fingerprint() == before, "a responder's request changed something"
    assert responder.get(f"/alerts/{seeded['event_id']}").status_code == 200, "the responder lost the alerts"
    assert checked > 30, f"only {checked} admin routes checked"
    figures.update(admin_routes_checked=checked)
