"""The on-call REST API (SPEC §9): groups with timezone, shifts and fallback; overrides; who is on call;
the schedule; a user's shifts; field-naming validation errors; the iCalendar feeds read back."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar

from tests.support import add_user, hook

DB_TEAM = {
    "name": "Database Team", "timezone": "Europe/Berlin",
    "shifts": [
        {"name": "Business hours", "start": "2026-12-07T09:00", "end": "2026-12-07T17:00",
         "recurrence": {"frequency": "WEEKLY", "byDay": ["MO", "TU", "WE", "TH", "FR"], "until": None},
         "timeline": [{"member": "bsmith", "delayMinutes": 0}, {"member": "jdoe", "delayMinutes": 10},
                      {"member": "DBA Managers", "recipientType": "GROUP", "delayMinutes": 50}],
         "rotation": {"direction": "SECOND_TO_FIRST", "every": "SHIFT", "exclude": ["DBA Managers"]},
         "repeat": {"afterMinutes": 30, "times": 2}},
        {"name": "Nights", "start": "2026-12-07T17:00", "end": "2026-12-08T09:00",
         "recurrence": {"frequency": "DAILY"},
         "timeline": [{"member": "oncall-a"}, {"member": "oncall-b"}],
         "rotation": {"direction": "SECOND_TO_FIRST", "every": "INTERVAL", "intervalHours": 168}}],
    "fallback": ["ops-lead"]}


@pytest.fixture
def team(api, receiver):
    for name in ("bsmith", "jdoe", "mgr", "oncall-a", "oncall-b", "ops-lead", "carol"):
        add_user(api, name, [hook(receiver, "Hook", name)])
    assert api.post("/api/v1/groups", json={"name": "DBA Managers", "members": ["mgr"]}).status_code == 201
    created = api.post("/api/v1/groups", json=DB_TEAM)
    assert created.status_code == 201, created.get_json()
    return created.get_json()


def names(timeline):
    return [(e["username"], e["delayMinutes"]) for e in timeline]


def test_a_group_with_shifts_round_trips(api, team):
    assert team["timezone"] == "Europe/Berlin"
    assert team["fallback"] == [{"member": "ops-lead", "recipientType": "PERSON"}]
    business = team["shifts"][0]
    assert business["start"] == "2026-12-07T09:00" and business["recurrence"]["byDay"][0] == "MO"
    assert business["rotation"]["exclude"] == ["DBA Managers"]
    assert business["repeat"] == {"afterMinutes": 30, "times": 2}
    again = api.patch("/api/v1/groups/Database Team", json={"shifts": team["shifts"], "fallback": team["fallback"]})
    assert again.status_code == 200 and again.get_json()["shifts"] == team["shifts"]


def test_a_group_without_shifts_shows_none(api, team):
    group = api.get("/api/v1/groups/DBA Managers").get_json()
    assert group["shifts"] == [] and group["timezone"] == "UTC" and group["mode"] == "all-at-once"


@pytest.mark.parametrize("change, field", [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"shifts": [{**DB_TEAM["shifts"][0]},
                 {**DB_TEAM["shifts"][1], "recurrence": {"frequency": "WEEKLY", "byDay": ["XX"]}}]},
     "shifts[1].recurrence.byDay[0]"),
    ({"shifts": [{**DB_TEAM["shifts"][0], "end": "2026-12-07T08:00"}]}, "shifts[0].end"),
    ({"shifts": [{**DB_TEAM["shifts"][0], "timeline": [{"member": "nobody"}]}]}, "shifts[0].timeline[0].member"),
    ({"shifts": [{**DB_TEAM["shifts"][0], "rotation": {"direction": "SIDEWAYS"}}]}, "shifts[0].rotation.direction"),
    ({"shifts": [{**DB_TEAM["shifts"][0], "rotation": {"direction": "SECOND_TO_FIRST", "every": "INTERVAL"}}]},
     "shifts[0].rotation.intervalHours"),
    ({"shifts": [{**DB_TEAM["shifts"][0], "rotation": {"exclude": ["carol"]}}]}, "shifts[0].rotation.exclude[0]"),
    ({"shifts": [DB_TEAM["shifts"][0], DB_TEAM["shifts"][0]]}, "shifts[1].name"),
    ({"shifts": [{**DB_TEAM["shifts"][0], "repeat": {"times": 2}}]}, "shifts[0].repeat.afterMinutes"),
    ({"shifts": [{**DB_TEAM["shifts"][0], "start": "1900-01-01T09:00", "end": "1900-01-01T17:00"}]},
     "shifts[0].start"),
    ({"fallback": ["Database Team"]}, "fallback[0].member"),
    ({"fallback": [{"member": "Database Team", "recipientType": "GROUP"}]}, "fallback[0].member"),
])
def test_validation_errors_name_the_field(api, team, change, field):
    response = api.patch("/api/v1/groups/Database Team", json=change)
    assert response.status_code == 400 and response.get_json()["field"] == field, response.get_json()
    assert api.get("/api/v1/groups/Database Team").get_json()["shifts"] == team["shifts"]  # nothing changed


@pytest.mark.parametrize("at, shift, expected", [
    ("2026-12-07T09:00:00Z", "Business hours", [("bsmith", 0), ("jdoe", 10), ("mgr", 50)]),  # 10:00 Berlin
    ("2026-12-08T09:00:00Z", "Business hours", [("jdoe", 0), ("bsmith", 10), ("mgr", 50)]),  # rotated a shift
    ("2026-12-08T02:00:00Z", "Nights", [("oncall-a", 0), ("oncall-b", 0)]),
    ("2026-12-14T19:00:00Z", "Nights", [("oncall-b", 0), ("oncall-a", 0)]),                  # a week on
])
def test_who_is_on_call(api, team, at, shift, expected):
    found = api.get(f"/api/v1/groups/Database Team/on-call?at={at}").get_json()
    assert [s["name"] for s in found["shifts"]] == [shift] and names(found["shifts"][0]["timeline"]) == expected
    assert found["fallback"] == []


def test_nobody_on_shift_means_the_fallback(api, team):
    found = api.get("/api/v1/groups/Database Team/on-call?at=2026-12-12T11:00:00Z").get_json()
    assert found["shifts"] == [] and found["fallback"] == ["ops-lead"]
    assert found["fallbackReason"] == "no shift is active"


def test_an_override_replaces_the_member_in_its_window_only(api, team):
    created = api.post("/api/v1/groups/Database Team/overrides", json={
        "start": "2026-12-07T11:00:00Z", "end": "2026-12-07T13:00:00Z", "member": "bsmith", "replacement": "carol",
        "shift": "Business hours"})
    assert created.status_code == 201, created.get_json()
    before = api.get("/api/v1/groups/Database Team/on-call?at=2026-12-07T10:59:00Z").get_json()
    during = api.get("/api/v1/groups/Database Team/on-call?at=2026-12-07T11:00:00Z").get_json()
    after = api.get("/api/v1/groups/Database Team/on-call?at=2026-12-07T13:00:00Z").get_json()
    assert names(before["shifts"][0]["timeline"])[0] == ("bsmith", 0)
    assert names(during["shifts"][0]["timeline"])[0] == ("carol", 0)
    assert names(after["shifts"][0]["timeline"])[0] == ("bsmith", 0)
    listed = api.get("/api/v1/groups/Database Team/overrides").get_json()["items"]
    assert [(o["member"], o["replacement"], o["shift"]) for o in listed] == [("bsmith", "carol", "Business hours")]
    assert api.delete(f"/api/v1/groups/Database Team/overrides/{listed[0]['id']}").status_code == 204
    assert api.get("/api/v1/groups/Database Team/overrides").get_json()["items"] == []


@pytest.mark.parametrize("body, field", [
    ({"start": "2026-12-07T11:00:00", "end": "2026-12-07T13:00:00Z", "member": "bsmith"}, "start"),
    ({"start": "", "end": "2026-12-07T13:00:00Z", "member": "bsmith"}, "start"),
    ({"start": "2026-12-07T13:00:00Z", "end": "2026-12-07T11:00:00Z", "member": "bsmith"}, "end"),
    ({"start": "2026-12-07T11:00:00Z", "end": "2026-12-07T13:00:00Z", "member": "zed"}, "member"),
    ({"start": "2026-12-07T11:00:00Z", "end": "2026-12-07T13:00:00Z", "member": "bsmith", "shift": "Lunch"}, "shift"),
])
def test_a_bad_override_names_the_field(api, team, body, field):
    response = api.post("/api/v1/groups/Database Team/overrides", json=body)
    assert response.status_code == 400 and response.get_json()["field"] == field


def test_an_unavailable_user_is_skipped(api, team):
    api.patch("/api/v1/users/bsmith", json={"active": False})
    found = api.get("/api/v1/groups/Database Team/on-call?at=2026-12-07T09:00:00Z").get_json()
    assert names(found["shifts"][0]["timeline"]) == [("jdoe", 0), ("mgr", 50)]


def test_the_schedule_and_a_users_shifts(api, team):
    window = "from=2026-12-07T00:00:00Z&to=2026-12-09T00:00:00Z"
    found = api.get(f"/api/v1/groups/Database Team/schedule?{window}").get_json()
    assert [(i["shift"], i["start"]) for i in found["items"]] == [
        ("Business hours", "2026-12-07T08:00:00Z"), ("Nights", "2026-12-07T16:00:00Z"),
        ("Business hours", "2026-12-08T08:00:00Z"), ("Nights", "2026-12-08T16:00:00Z")]
    assert names(found["items"][2]["timeline"])[0] == ("jdoe", 0)
    mine = api.get("/api/v1/users/bsmith/on-call?from=2026-12-07T00:00:00Z&to=2026-12-09T00:00:00Z").get_json()
    assert [(i["group"], i["start"], i["position"]) for i in mine["items"]] == [
        ("Database Team", "2026-12-07T08:00:00Z", 1), ("Database Team", "2026-12-08T08:00:00Z", 2)]
    bad = api.get("/api/v1/groups/Database Team/schedule?from=2026-12-07T00:00:00Z&to=2026-12-01T00:00:00Z")
    assert bad.status_code == 400 and bad.get_json()["field"] == "to"


def _feed_starts(client, url, since, until):
    response = client.get(url.removeprefix("http://klaxon.test"))
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    starts = []
    for event in Calendar.from_ical(response.data).walk("VEVENT"):
        start = event.decoded("dtstart")
        if "RRULE" in event:
            rule = rrulestr(event["RRULE"].to_ical().decode(), dtstart=start)
            starts += [(str(event["SUMMARY"]), s) for s in rule.between(since, until, inc=True)]
        elif since <= start < until:
            starts.append((str(event["SUMMARY"]), start))
    return sorted((name, s.astimezone(UTC)) for name, s in starts)


def test_the_group_feed_has_the_schedules_occurrences(api, client, team):
    api.patch("/api/v1/groups/Database Team", json={"shifts": [
        {**DB_TEAM["shifts"][0], "recurrence": {"frequency": "WEEKLY", "byDay": ["MO", "WE"], "until": "2027-04-07"}},
        DB_TEAM["shifts"][1]]})
    since, until = datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC)  # across the spring change
    url = api.get("/api/v1/groups/Database Team/calendar").get_json()["url"]
    schedule = api.get("/api/v1/groups/Database Team/schedule?from=2027-03-01T00:00:00Z&to=2027-05-01T00:00:00Z")
    expected = sorted((f"Database Team: {i['shift']}", datetime.fromisoformat(i["start"].replace("Z", "+00:00")))
                      for i in schedule.get_json()["items"] if i["start"] >= "2027-03-01")
    assert _feed_starts(client, url, since, until) == expected and len(expected) > 60
    regenerated = api.post("/api/v1/groups/Database Team/calendar/regenerate").get_json()["url"]
    assert regenerated != url and client.get(url.removeprefix("http://klaxon.test")).status_code == 404
    assert client.get(regenerated.removeprefix("http://klaxon.test")).status_code == 200


def test_the_user_feed_lists_their_shifts(api, client, team):
    url = api.get("/api/v1/users/bsmith/calendar").get_json()["url"]
    cal = Calendar.from_ical(client.get(url.removeprefix("http://klaxon.test")).data)
    assert all("Database Team / Business hours" in str(e["SUMMARY"]) for e in cal.walk("VEVENT"))
    assert client.get("/calendar/forged.ics").status_code == 404


@pytest.mark.parametrize("query, field", [("at=9999-12-31T23:59:59Z", "at"), ("at=2026-12-07T09:00", "at"),
                                          ("at=yesterday", "at")])
def test_a_bad_instant_is_a_400_naming_it(api, team, query, field):
    response = api.get(f"/api/v1/groups/Database Team/on-call?{query}")
    assert response.status_code == 400 and response.get_json()["field"] == field


def test_removing_a_member_or_the_group_leaves_nothing_dangling(api, team):
    api.post("/api/v1/groups/Database Team/overrides", json={
        "start": "2026-12-07T11:00:00Z", "end": "2026-12-07T13:00:00Z", "member": "bsmith", "replacement": "carol"})
    assert api.delete("/api/v1/users/carol").status_code == 204
    assert api.get("/api/v1/groups/Database Team/overrides").get_json()["items"] == []
    assert api.delete("/api/v1/users/jdoe").status_code == 204
    timeline = api.get("/api/v1/groups/Database Team").get_json()["shifts"][0]["timeline"]
    assert [e["member"] for e in timeline] == ["bsmith", "DBA Managers"]
    assert api.delete("/api/v1/groups/DBA Managers").status_code == 204
    assert api.get("/api/v1/groups/Database Team/on-call?at=2026-12-07T09:00:00Z").status_code == 200
    assert api.delete("/api/v1/groups/Database Team").status_code == 204
