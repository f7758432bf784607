"""Every dashboard form shows every field's error at once, each beside its field; bad input saves
nothing and answers 422 with the form again, the typed values kept (issue 19, item 6).

The shared validators stop at the first bad field (the REST API answers with that one); the
dashboard's save_form finds the others by checking again with each refused field set aside.
"""
from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tests.conftest import csrf_from
from tests.support import add_user, hook

HTMX = {"HX-Request": "true"}
VOID = {"input", "br", "img", "hr", "meta", "link", "col", "source", "wbr", "area", "base"}


class Fields(HTMLParser):
    """{control name: [error texts]} of each form field: a control and the errors in the same
    ``.field`` (or an update type's ``.update-row``) are beside each other."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, bool]] = []  # (tag, opens a field)
        self.fields: list[dict] = []  # the open fields, innermost last
        self.beside: dict[str, list[str]] = {}
        self.in_error = 0
        self.text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag in ("input", "select", "textarea") and attrs.get("name") and self.fields:
            self.fields[-1]["names"].append(attrs["name"])
        if tag in VOID:
            return
        opens = "field" in classes or "update-row" in classes
        if opens:
            self.fields.append({"names": [], "errors": []})
        if tag == "p" and "error" in classes:
            self.in_error, self.text = len(self.stack) + 1, ""
        self.stack.append((tag, opens))

    def handle_data(self, data):
        if self.in_error:
            self.text += data

    def handle_endtag(self, tag):
        if tag in VOID or not self.stack:
            return
        while self.stack:
            open_tag, opens = self.stack.pop()
            if self.in_error and len(self.stack) < self.in_error:
                self.fields and self.fields[-1]["errors"].append(" ".join(self.text.split()))
                self.in_error = 0
            if opens:
                field = self.fields.pop()
                for name in field["names"]:
                    self.beside.setdefault(name, []).extend(field["errors"])
            if open_tag == tag:
                break


def errors_beside(html: str) -> dict[str, list[str]]:
    parser = Fields()
    parser.feed(html)
    return {name: errors for name, errors in parser.beside.items() if errors}


def monday_next() -> str:
    from datetime import date, timedelta

    return str(date.today() + timedelta(days=7 - date.today().weekday()))


@pytest.fixture
def world(admin_client, api, receiver):
    """Two users with devices, a group, a webhook configuration and a heartbeat."""
    from models import Configuration, Group

    for name in ("bsmith", "jdoe"):
        add_user(api, name, [hook(receiver, "Hook", name)])
    assert api.post("/api/v1/groups", json={"name": "Ops", "members": ["bsmith"]}).status_code == 201
    assert api.post("/api/v1/configurations", json={"name": "Prod", "template": "webhook"}).status_code == 201
    token = csrf_from(admin_client.get("/people").get_data(as_text=True))
    return {"token": token, "group": Group.query.filter_by(name="Ops").one().id,
            "config": Configuration.query.filter_by(name="Prod").one().uuid}


def counts():
    """What a refused form must not change: rows of every table a form here writes, and the fields it sets."""
    from extensions import db
    from models import Configuration, Device, Group, GroupMember, MaintenanceWindow, Override, Shift, User

    rows = tuple(db.session.query(model).count()
                 for model in (User, Device, Group, GroupMember, Configuration, MaintenanceWindow, Shift, Override))
    group = db.session.query(Group).filter_by(name="Ops").one()
    cfg = db.session.query(Configuration).filter_by(name="Prod").first()
    db.session.expire_all()
    return rows, (group.mode, group.escalation_delay_minutes), \
        cfg and (cfg.name, cfg.rate_limit_per_minute, [(e.update_type, e.enabled, e.url) for e in cfg.endpoints])


# name: (URL, form, {control name: words its error says}, a typed value the form shows again)
FORMS = {
    "user": ("/people/users", {"username": "", "name": "Bob", "role": "boss", "password": "short"},
             {"username": "Must not be empty", "role": "Must be one of", "password": "at least 8 characters"},
             'value="Bob"'),
    "device": ("/people/users/bsmith/devices", {"name": "", "kind": "email", "target": "not-an-address"},
               {"name": "Must not be empty", "target": "Not an email address"}, 'value="not-an-address"'),
    "new group": ("/people/groups", {"name": "", "mode": "all-at-once", "escalationDelayMinutes": "soon",
                                     "members": ["ghost"]},
                  {"name": "Must not be empty", "escalationDelayMinutes": "number of minutes",
                   "members": "No user named 'ghost'"}, 'value="soon"'),
    "group settings": ("/people/groups/{group}", {"mode": "sideways", "escalationDelayMinutes": "-1"},
                       {"mode": "Must be one of", "escalationDelayMinutes": "from 0 to 10080"}, 'value="-1"'),
    "new configuration": ("/integrations/new", {"template": "webhook", "name": "", "priority": "MEDIUM",
                                                "rateLimitPerMinute": "lots", "dedupWindowMinutes": "-5"},
                          {"name": "Must not be empty", "rateLimitPerMinute": "whole number",
                           "dedupWindowMinutes": "at least 0"}, 'value="lots"'),
    "configuration settings": ("/integrations/{config}", {"name": "  ", "description": "kept words",
                                                          "priority": "MEDIUM", "rateLimitPerMinute": "-3",
                                                          "dedupWindowMinutes": "forever"},
                               {"name": "Must not be empty", "rateLimitPerMinute": "at least 0",
                                "dedupWindowMinutes": "whole number"}, "kept words"),
    "new heartbeat": ("/integrations/new", {"template": "heartbeat", "name": "", "priority": "MEDIUM",
                                            "intervalMinutes": "often", "graceMinutes": "-1"},
                      {"name": "Must not be empty", "intervalMinutes": "whole number", "graceMinutes": ""},
                      'value="often"'),
    "update URLs": ("/integrations/{config}/updates", {"status_enabled": "on", "status_url": "",
                                                       "delivery_enabled": "on", "delivery_url": "ftp://hooks.test/x"},
                    {"status_url": "Is required", "delivery_url": ""}, 'value="ftp://hooks.test/x"'),
    "maintenance window": ("/maintenance", {"name": "", "start": "soon", "end": "2030-01-01T01:00",
                                            "timezone": "Mars/Base", "scope": "all"},
                           {"name": "Must not be empty", "start": "date-time", "timezone": ""},
                           'value="2030-01-01T01:00"'),
    "on-call shifts": ("/people/groups/{group}/shifts", {
        "timezone": "Mars/Base", "save": "1", "shifts[0].name": "Days", "shifts[0].start": "{monday}T09:00",
        "shifts[0].end": "{monday}T17:00", "shifts[0].recurrence.frequency": "DAILY",
        "shifts[0].timeline[0].member": "bsmith", "shifts[0].timeline[0].recipientType": "PERSON",
        "shifts[0].timeline[0].delayMinutes": "0", "shifts[0].rotation.direction": "SIDEWAYS",
        "shifts[0].rotation.every": "SHIFT"},
        {"timezone": "", "shifts[0].rotation.direction": "Must be one of"}, 'value="Days"'),
    "override": ("/people/groups/{group}/overrides", {"member": "ghost", "replacement": "",
                                                      "start": "whenever", "end": "2030-01-01T10:00"},
                 {"member": "No user named 'ghost'", "start": "instant"}, 'value="whenever"'),
}


@pytest.mark.parametrize("name", FORMS)
def test_every_bad_field_shows_its_error_beside_it_and_nothing_is_saved(name, admin_client, world):
    url, form, expected, kept = FORMS[name]
    url = url.format(**world)
    form = {k: [x.format(monday=monday_next()) for x in v] if isinstance(v, list) else v.format(monday=monday_next())
            for k, v in form.items()}
    before = counts()
    answer = admin_client.post(url, data={"csrf_token": world["token"], **form})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422, page[:2000]
    beside = errors_beside(page)
    for control, words in expected.items():
        assert control in beside, f"no error beside {control}; errors: {beside}"
        assert words in " ".join(beside[control]), beside[control]
    assert kept in page  # what was typed is there to correct
    assert counts() == before


@pytest.mark.parametrize("name", ["device", "group settings", "update URLs", "on-call shifts"])
def test_an_htmx_form_shows_every_error_too(name, admin_client, world):
    """htmx swaps only 2xx answers, so its fragment with the errors comes back as 200 (a page as 422)."""
    url, form, expected, _kept = FORMS[name]
    form = {k: v.format(monday=monday_next()) for k, v in form.items() if not isinstance(v, list)}
    before = counts()
    answer = admin_client.post(url.format(**world), headers=HTMX, data={"csrf_token": world["token"], **form})
    beside = errors_beside(answer.get_data(as_text=True))
    assert answer.status_code == 200 and set(expected) <= set(beside), beside
    assert counts() == before


def test_a_form_without_its_csrf_token_is_refused(admin_client, world):
    for url, form, _expected, _kept in FORMS.values():
        form = {k: v for k, v in form.items() if not isinstance(v, list) and "{" not in v}
        assert admin_client.post(url.format(**world), data=form).status_code == 400, url


def test_a_taken_username_and_a_short_password_both_show(admin_client, world):
    answer = admin_client.post("/people/users", data={"csrf_token": world["token"], "username": "bsmith",
                                                      "password": "short"})
    beside = errors_beside(answer.get_data(as_text=True))
    assert answer.status_code == 422
    assert "already taken" in beside["username"][0] and "at least 8" in beside["password"][0]
