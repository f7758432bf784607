"""The group page (SPEC §9 dashboard): week/month calendar, shift editor through the API's validator,
overrides and "cover for me", feed URLs, "on call now" in the groups list."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.conftest import csrf_from
from tests.support import add_user, hook

HTMX = {"HX-Request": "true"}


@pytest.fixture
def group_id(admin_client, api, receiver):
    from models import Group

    for name in ("bsmith", "jdoe"):
        add_user(api, name, [hook(receiver, "Hook", name)])
    token = csrf_from(admin_client.get("/people").get_data(as_text=True))
    admin_client.post("/people/users/admin/devices", data={"csrf_token": token, **hook(receiver, "Hook", "admin")})
    assert api.post("/api/v1/groups", json={"name": "Ops <Team>"}).status_code == 201
    return Group.query.filter_by(name="Ops <Team>").one().id


def monday() -> str:
    today = date.today()
    return str(today - timedelta(days=today.weekday()))


def editor_form(token, first="bsmith", days=("MO", "TU", "WE", "TH", "FR", "SA", "SU")):
    start = monday()
    end = str(date.fromisoformat(start) + timedelta(days=1))
    return {"csrf_token": token, "timezone": "Europe/Berlin", "save": "1",
            "shifts[0].name": "Days", "shifts[0].start": f"{start}T00:00", "shifts[0].end": f"{start}T12:00",
            "shifts[0].recurrence.frequency": "DAILY", "shifts[0].recurrence.byDay": list(days),
            "shifts[0].timeline[0].member": first, "shifts[0].timeline[0].recipientType": "PERSON",
            "shifts[0].timeline[0].delayMinutes": "0",
            "shifts[0].timeline[1].member": "jdoe", "shifts[0].timeline[1].recipientType": "PERSON",
            "shifts[0].timeline[1].delayMinutes": "10",
            "shifts[0].rotation.direction": "NONE", "shifts[0].rotation.every": "SHIFT",
            "shifts[0].repeat.afterMinutes": "0", "shifts[0].repeat.times": "0",
            "shifts[1].name": "Nights", "shifts[1].start": f"{start}T12:00", "shifts[1].end": f"{end}T00:00",
            "shifts[1].recurrence.frequency": "DAILY",
            "shifts[1].timeline[0].member": "jdoe", "shifts[1].timeline[0].recipientType": "PERSON",
            "shifts[1].rotation.direction": "NONE", "shifts[1].rotation.every": "SHIFT"}


def test_the_editor_saves_two_shifts_and_the_calendar_shows_who_is_first(admin_client, group_id, api):
    page = admin_client.get(f"/people/groups/{group_id}/on-call")
    assert page.status_code == 200 and "Ops &lt;Team&gt;" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    saved = admin_client.post(f"/people/groups/{group_id}/shifts", data=editor_form(token))
    assert saved.status_code == 302, saved.get_data(as_text=True)
    shifts = api.get("/api/v1/groups/Ops%20%3CTeam%3E").get_json()["shifts"]
    assert [s["name"] for s in shifts] == ["Days", "Nights"]
    assert [e["member"] for e in shifts[0]["timeline"]] == ["bsmith", "jdoe"]
    week = admin_client.get(f"/people/groups/{group_id}/on-call?view=week&start={monday()}").get_data(as_text=True)
    assert week.count('class="shift-chip"') == 14 and "1st: <strong>bsmith</strong>" in week
    month = admin_client.get(f"/people/groups/{group_id}/on-call?view=month").get_data(as_text=True)
    assert 'class="cal-month"' in month and month.count('class="shift-chip"') >= 56
    fragment = admin_client.get(f"/people/groups/{group_id}/on-call?view=week",
                                headers={**HTMX, "HX-Target": "calendar"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section class="card" id="calendar">')
    groups = admin_client.get("/people/groups").get_data(as_text=True)
    assert "On call now: <strong>" in groups and ("bsmith" in groups or "jdoe" in groups)


def test_an_error_shows_beside_its_field_by_the_api_path(admin_client, group_id):
    token = csrf_from(admin_client.get(f"/people/groups/{group_id}/on-call").get_data(as_text=True))
    bad = editor_form(token, days=("XX",))
    answer = admin_client.post(f"/people/groups/{group_id}/shifts", data=bad, headers=HTMX)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and html.lstrip().startswith('<section class="card" id="editor">')
    days = html.split('class="field days has-error"', 1)
    assert len(days) == 2 and 'class="error"' in days[1].split("</fieldset>", 1)[0]
    nobody = editor_form(token, first="ghost")
    html = admin_client.post(f"/people/groups/{group_id}/shifts", data=nobody).get_data(as_text=True)
    assert "No user named &#39;ghost&#39;" in html or "No user named 'ghost'" in html


def test_editor_buttons_change_the_draft_without_saving(admin_client, group_id, api):
    token = csrf_from(admin_client.get(f"/people/groups/{group_id}/on-call").get_data(as_text=True))
    form = {**editor_form(token), "op": "down:0:0"}
    form.pop("save")
    html = admin_client.post(f"/people/groups/{group_id}/shifts", data=form, headers=HTMX).get_data(as_text=True)
    assert html.index('name="shifts[0].timeline[0].member" value="jdoe"') > 0
    assert api.get("/api/v1/groups/Ops%20%3CTeam%3E").get_json()["shifts"] == []
    form["op"] = "add-shift"
    html = admin_client.post(f"/people/groups/{group_id}/shifts", data=form, headers=HTMX).get_data(as_text=True)
    assert 'name="shifts[2].name"' in html


def test_cover_for_me_prefills_and_adds_an_override(admin_client, group_id, api):
    token = csrf_from(admin_client.get(f"/people/groups/{group_id}/on-call").get_data(as_text=True))
    form = editor_form(token, first="admin")
    admin_client.post(f"/people/groups/{group_id}/shifts", data=form)
    coming = str(date.fromisoformat(monday()) + timedelta(days=7))  # a window still to come is listed
    week = admin_client.get(f"/people/groups/{group_id}/on-call?start={coming}").get_data(as_text=True)
    assert "Cover for me" in week
    link = week.split('class="small cover-link" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    prefilled = admin_client.get(link).get_data(as_text=True)
    assert f'name="start" value="{coming}T00:00"' in prefilled
    assert '<option value="admin" selected>' in prefilled
    added = admin_client.post(f"/people/groups/{group_id}/overrides", data={
        "csrf_token": token, "member": "admin", "replacement": "bsmith", "shift": "Days",
        "start": f"{coming}T00:00", "end": f"{coming}T12:00"})
    assert added.status_code == 302
    listed = api.get("/api/v1/groups/Ops%20%3CTeam%3E/overrides").get_json()["items"]
    assert [(o["member"], o["replacement"], o["shift"]) for o in listed] == [("admin", "bsmith", "Days")]
    page = admin_client.get(f"/people/groups/{group_id}/on-call").get_data(as_text=True)
    assert "<strong>bsmith</strong> for admin" in page
    bad = admin_client.post(f"/people/groups/{group_id}/overrides", data={
        "csrf_token": token, "member": "admin", "start": f"{monday()}T12:00", "end": f"{monday()}T00:00"})
    assert bad.status_code == 422 and "Must be after start" in bad.get_data(as_text=True)
    deleted = admin_client.post(f"/people/groups/{group_id}/overrides/{listed[0]['id']}/delete",
                                data={"csrf_token": token})
    assert deleted.status_code == 302 and api.get("/api/v1/groups/Ops%20%3CTeam%3E/overrides").get_json()["items"] == []


def test_feed_urls_show_and_regenerate(admin_client, group_id):
    html = admin_client.get(f"/people/groups/{group_id}/on-call").get_data(as_text=True)
    url = html.split('id="group-feed" readonly value="', 1)[1].split('"', 1)[0]
    path = url.split("localhost", 1)[-1] if "localhost" in url else "/" + url.split("/", 3)[3]
    assert admin_client.get(path).status_code == 200
    token = csrf_from(html)
    regenerated = admin_client.post(f"/people/groups/{group_id}/calendar/regenerate", data={"csrf_token": token})
    assert regenerated.status_code == 302
    html = admin_client.get(f"/people/groups/{group_id}/on-call").get_data(as_text=True)
    assert url not in html and admin_client.get(path).status_code == 404
    assert 'id="user-feed" readonly value="' in html


def test_forms_need_csrf(admin_client, group_id):
    assert admin_client.post(f"/people/groups/{group_id}/overrides", data={"member": "admin"}).status_code == 400


def test_the_recipient_picker_says_who_is_on_call_beside_a_group(admin_client, group_id):
    token = csrf_from(admin_client.get(f"/people/groups/{group_id}/on-call").get_data(as_text=True))
    admin_client.post(f"/people/groups/{group_id}/shifts", data=editor_form(token))
    found = admin_client.get("/integrations/recipients?q=ops", headers=HTMX).get_data(as_text=True)
    assert "Ops &lt;Team&gt;" in found
    assert "on call now: bsmith" in found or "on call now: jdoe" in found
    chip = admin_client.get("/integrations/recipients/chip?type=GROUP&id=Ops <Team>", headers=HTMX)
    assert "on call: " in chip.get_data(as_text=True)


def test_saving_from_the_editor_keeps_what_the_api_set(admin_client, group_id, api):
    shift = {"name": "Month ends", "start": "2026-12-31T09:00", "end": "2026-12-31T17:00",
             "recurrence": {"frequency": "MONTHLY", "byMonthDay": [-1], "until": "2027-06-30"},
             "timeline": [{"member": "bsmith", "delayMinutes": 0}, {"member": "jdoe", "delayMinutes": 15}],
             "rotation": {"direction": "SECOND_TO_FIRST", "every": "INTERVAL", "intervalHours": 168,
                          "exclude": ["jdoe"]}, "repeat": {"afterMinutes": 30, "times": 2}}
    assert api.patch("/api/v1/groups/Ops%20%3CTeam%3E", json={"timezone": "Europe/Berlin",
                                                             "shifts": [shift]}).status_code == 200
    before = api.get("/api/v1/groups/Ops%20%3CTeam%3E").get_json()["shifts"]
    html = admin_client.get(f"/people/groups/{group_id}/on-call").get_data(as_text=True)
    form = {"csrf_token": csrf_from(html), "save": "1"}
    for name, value in re.findall(r'<input (?!type="checkbox")[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', html):
        if name.startswith("shifts[") or name == "timezone":
            form[name] = value.replace("&#39;", "'").replace("&amp;", "&")
    for name, value in re.findall(r'<input type="checkbox" name="([^"]+)" value="([^"]*)" checked', html):
        form.setdefault(name, [])
        form[name] = (form[name] if isinstance(form[name], list) else [form[name]]) + [value]
    for name, value in re.findall(r'<select[^>]* name="(shifts[^"]+)">.*?<option selected>([^<]*)<', html):
        form[name] = value
    form["timezone"] = "Europe/Berlin"
    form["shifts[0].recurrence.frequency"] = "MONTHLY"
    saved = admin_client.post(f"/people/groups/{group_id}/shifts", data=form)
    assert saved.status_code == 302, re.findall(r'class="error"[^>]*>([^<]*)', saved.get_data(as_text=True))
    assert api.get("/api/v1/groups/Ops%20%3CTeam%3E").get_json()["shifts"] == before


def test_a_responder_covers_only_their_own_place_and_removes_only_their_own_overrides(app, api, receiver):
    from extensions import db
    from models import Group, User
    from tests.conftest import login

    for name in ("bsmith", "jdoe"):  # no admin session in this test: its g would carry the admin along
        add_user(api, name, [hook(receiver, "Hook", name)])
    assert api.post("/api/v1/groups", json={"name": "Ops <Team>"}).status_code == 201
    group_id = Group.query.filter_by(name="Ops <Team>").one().id
    user = db.session.query(User).filter_by(username="bsmith").one()
    user.set_password("responder password")
    db.session.commit()
    responder = app.test_client()
    assert login(responder, "bsmith", "responder password").status_code == 302
    page = f"/people/groups/{group_id}/on-call"
    token = csrf_from(responder.get(page).get_data(as_text=True))
    window = {"csrf_token": token, "start": f"{monday()}T09:00", "end": f"{monday()}T10:00", "replacement": ""}
    others = responder.post(f"/people/groups/{group_id}/overrides", data={**window, "member": "jdoe"})
    assert others.status_code == 403
    admins = api.post("/api/v1/groups/Ops <Team>/overrides", json={
        "start": f"{monday()}T11:00:00Z", "end": f"{monday()}T12:00:00Z", "member": "jdoe"})
    assert admins.status_code == 201, admins.get_json()
    refused = responder.post(f"/people/groups/{group_id}/overrides/{admins.get_json()['id']}/delete",
                             data={"csrf_token": token})
    assert refused.status_code == 403
    own = responder.post(f"/people/groups/{group_id}/overrides", data={**window, "member": "bsmith"})
    assert own.status_code == 302
    mine = [o for o in api.get("/api/v1/groups/Ops <Team>/overrides").get_json()["items"] if o["member"] == "bsmith"]
    assert len(mine) == 1
    removed = responder.post(f"/people/groups/{group_id}/overrides/{mine[0]['id']}/delete", data={"csrf_token": token})
    assert removed.status_code == 302
    left = api.get("/api/v1/groups/Ops <Team>/overrides").get_json()["items"]
    assert [o["member"] for o in left] == ["jdoe"]
