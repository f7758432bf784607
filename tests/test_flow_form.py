"""The flow editor's forms (issue 19, item 10): steps to nested forms and back, its buttons' edits, every
validation error placed on the step and field it names, and the field reference kept true."""
import inspect
import json
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from markupsafe import escape
from werkzeug.datastructures import MultiDict

from alerting.errors import FieldError, FieldErrors
from alerting.flows import reference, steps, triggers
from alerting.flows.validate import validate_flow
from blueprints.dashboard.flow_form import FormTree, definition_steps, editable, errors_of_step, step_views
from blueprints.dashboard.flows import STARTER_STEPS
from tests.test_flows_api import flows_url, spec_flow
from tests.test_flows_e2e import setup, token  # noqa: F401  (fixtures)

SWITCH = [{"name": "route", "type": "switch", "value": "{{ alert.priority }}",
           "cases": {"HIGH": [{"name": "a", "type": "update_alert", "action": "comment", "comment": "x"}]},
           "default": [{"name": "b", "type": "update_alert", "action": "suspend"}]}]


class FormFields(HTMLParser):
    """What a browser would post from the page's form#flow-form (no button pressed)."""

    def __init__(self):
        super().__init__()
        self.fields, self.inside, self.select, self.textarea, self.options = [], False, None, None, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "flow-form":
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") != "checkbox":
            self.fields.append((a["name"], a.get("value") or ""))
        elif tag == "input" and a.get("type") == "checkbox" and "checked" in a:
            self.fields.append((a["name"], "on"))
        elif tag == "select":
            self.select, self.options = a.get("name"), []
        elif tag == "option" and self.select:
            self.options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self.textarea = [a["name"], ""]

    def handle_data(self, data):
        if self.textarea:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select" and self.select:
            chosen = [v for v, selected in self.options if selected] or [v for v, _ in self.options[:1]]
            self.fields.append((self.select, chosen[0] if chosen else ""))
            self.select = None
        elif tag == "textarea" and self.textarea:
            self.fields.append((self.textarea[0], self.textarea[1].removeprefix("\n")))
            self.textarea = None


def form_of(html: str) -> list:
    parser = FormFields()
    parser.feed(html)
    return parser.fields


def posted(fields, **changes) -> MultiDict:
    data = MultiDict(fields)
    for key, value in changes.items():
        data.setlist(key, [value])
    return data


def test_a_switch_turns_into_branches_and_back_unchanged():
    model = editable(SWITCH)
    assert [(b["case"], b["beside"]) for b in model[0]["branches"]] == [("HIGH", False), ("default", True)]
    assert definition_steps(model) == SWITCH


def test_a_shape_forms_cannot_show_names_its_field():
    with pytest.raises(FieldError) as caught:
        editable([{"name": "r", "type": "switch", "cases": []}])
    assert caught.value.field == "steps[0].cases"


def test_branches_without_a_value_or_with_a_taken_one_are_named():
    model = editable(SWITCH)
    model[0]["branches"].append({"case": " ", "steps": [], "beside": False})
    model[0]["branches"].append({"case": "HIGH", "steps": [], "beside": False})
    with pytest.raises(FieldErrors) as caught:
        definition_steps(model)
    assert set(caught.value.errors) == {"steps[0].branches[2].case", "steps[0].branches[3].case"}
    assert "'HIGH' already has a branch" in str(caught.value.errors["steps[0].branches[3].case"])


def tree(**fields):
    form = MultiDict([("step", "s0"), ("s0.type", "switch"), ("s0.name", "route"), ("s0.value", "{{ x }}"),
                      ("branch", "s0.b0"), ("s0.b0.case", "HIGH"),
                      ("step", "s0.b0.s0"), ("s0.b0.s0.type", "update_alert"), ("s0.b0.s0.name", "a"),
                      ("s0.b0.s0.action", "comment"), ("s0.b0.s0.comment", "one\r\ntwo"),
                      ("step", "s1"), ("s1.type", "http_request"), ("s1.name", "hook"), ("s1.method", "PUT"),
                      ("s1.url", "http://127.0.0.1:9/x"), ("s1.headers.key", "X-A"), ("s1.headers.value", "1"),
                      ("s1.headers.kind", "text"), ("s1.headers.key", "n"), ("s1.headers.value", "5"),
                      ("s1.headers.kind", "json"), ("s1.headers.key", ""), ("s1.headers.value", "ignored"),
                      ("s1.headers.kind", "text"), ("s1.body", "")])
    for key, value in fields.items():
        form.add(key, value)
    return form


def test_a_posted_form_is_rebuilt_as_nested_steps():
    assert definition_steps(FormTree(tree()).model) == [
        {"name": "route", "type": "switch", "value": "{{ x }}",
         "cases": {"HIGH": [{"name": "a", "type": "update_alert", "action": "comment", "comment": "one\ntwo"}]}},
        {"name": "hook", "type": "http_request", "method": "PUT", "url": "http://127.0.0.1:9/x",
         "headers": {"X-A": "1", "n": 5}}]  # an empty body is left out; a JSON-typed row keeps its number


@pytest.mark.parametrize("op, form, names", [
    ("add:s0.b0", {"kind:s0.b0": "http_request"}, ["route", "a", "request_1", "hook"]),
    ("add:", {"kind:": "switch"}, ["route", "a", "hook", "branch_1"]),
    ("add:", {"kind:": "no_such_kind"}, ["route", "a", "hook"]),
    ("remove:s0.b0.s0", {}, ["route", "hook"]),
    ("up:s1", {}, ["hook", "route", "a"]),
    ("down:s1", {}, ["route", "a", "hook"]),  # already last: nothing moves
    ("removebranch:s0.b0", {}, ["route", "hook"]),
    ("nonsense", {}, ["route", "a", "hook"]),
])
def test_the_editor_buttons_change_the_steps(op, form, names):
    posted_tree = FormTree(tree(**form))
    posted_tree.apply(op, tree(**form))
    found = []

    def walk(model):
        for step in model:
            found.append(step["name"])
            for branch in step.get("branches", []):
                walk(branch["steps"])
    walk(posted_tree.model)
    assert found == names


def test_a_new_branch_goes_before_the_default_one():
    model = editable([{"name": "r", "type": "switch", "value": "v", "cases": {"A": [], "default": []}}])
    form = MultiDict([("step", "s0"), ("s0.type", "switch"), ("s0.name", "r"), ("s0.value", "v"),
                      ("branch", "s0.b0"), ("s0.b0.case", "A"), ("branch", "s0.b1"), ("s0.b1.case", "default")])
    posted_tree = FormTree(form)
    posted_tree.apply("addbranch:s0", form)
    assert [b["case"] for b in posted_tree.model[0]["branches"]] == ["A", "", "default"]
    assert len(model[0]["branches"]) == 2


def test_errors_go_to_the_step_and_field_they_name():
    errors = {"steps[0].value": "Is required", "steps[0].cases.HIGH[0].comment": "Is required",
              "steps[1].headers.X-A": "Bad", "steps[1].bogus": "Unknown field", "steps[10].name": "Taken"}
    views = step_views(editable([*SWITCH[:1], {"name": "h", "type": "http_request"}]), errors)
    assert views[0]["errors"] == {"value": "Is required"}
    assert views[0]["branches"][0]["steps"][0]["errors"] == {"comment": "Is required"}
    assert views[1]["errors"] == {"headers": "X-A: Bad", "step": "bogus: Unknown field"}
    assert errors_of_step(errors, "steps[1]", "http_request") == views[1]["errors"]


def test_the_validator_reports_every_step_and_the_api_still_answers_with_the_first():
    bad = {"name": "", "trigger": {"type": "alert.created"},
           "steps": [{"name": "a", "type": "update_alert", "action": "nope"},
                     {"name": "b", "type": "switch", "value": "x", "cases": {"H": [{"name": "c", "type": "x"}]}},
                     {"name": "d", "type": "update_alert", "action": "comment"}]}
    with pytest.raises(FieldErrors) as caught:
        validate_flow(bad)
    assert list(caught.value.errors) == ["name", "steps[0].action", "steps[1].cases.H[0].type", "steps[2].comment"]
    assert caught.value.field == "name" and str(caught.value) == "name: is required"


def test_the_reference_names_what_templates_see():
    alert = SimpleNamespace(uuid="u", id=1, status="ACTIVE", priority="LOW", subject="s", message="m",
                            properties={}, dedup_key=None, configuration=None)
    assert [k for k, _ in reference.ALERT_FIELDS] == list(steps.alert_json(alert))
    documented = {k for k, _ in reference.COMMON_TRIGGER_FIELDS}
    cfg = SimpleNamespace(response_options=[{"text": "Acknowledge", "action": "RECORD_RESPONSE"}])
    for kind, fields in reference.TRIGGER_FIELDS.items():
        flow = SimpleNamespace(trigger={"type": kind}, configuration=cfg)
        assert set(triggers.sample_trigger(flow, None)) <= documented | {k for k, _ in fields}, kind
    source = inspect.getsource(triggers.describe)  # the live events' fields, not only the samples'
    for kind, fields in reference.TRIGGER_FIELDS.items():
        for key, _ in fields:
            assert f'"{key}"' in source or f"{key}=" in source, (kind, key)
    assert set(reference.STEP_KINDS) == set(steps.STEPS)


# Through the dashboard: a page's own form, posted back as a browser would, saves what it showed.
def test_the_step_forms_post_back_the_flow_they_show(api, admin_client, token, setup):  # noqa: F811
    a, b = setup
    base = f"/integrations/{a['uuid']}/flows/"
    fields = form_of(admin_client.get(base + "new").get_data(as_text=True))
    assert ("view", "forms") in fields and ("s0.url", STARTER_STEPS[0]["url"]) in fields
    saved = admin_client.post(base + "new", data=posted(fields, name="Starter", **{"s0.url": "http://127.0.0.1:9/t"}))
    assert saved.status_code == 302
    flow = api.get(flows_url(a)).get_json()["items"][0]
    assert flow["steps"] == [dict(STARTER_STEPS[0], url="http://127.0.0.1:9/t"), STARTER_STEPS[1]]

    spec = spec_flow(b["uuid"])
    api.patch(flows_url(a, flow["id"]), json={"steps": spec["steps"]})
    page = admin_client.get(saved.headers["Location"]).get_data(as_text=True)
    again = admin_client.post(saved.headers["Location"], data=posted(form_of(page)))
    assert again.status_code == 302
    assert api.get(flows_url(a, flow["id"])).get_json()["steps"] == spec["steps"]


def test_the_advanced_tab_round_trips_with_the_forms(admin_client, token, setup):  # noqa: F811
    a, b = setup
    base = f"/integrations/{a['uuid']}/flows/"
    fields = form_of(admin_client.get(base + "new").get_data(as_text=True))
    as_json = admin_client.post(base + "new/edit", data=posted(fields, op="view:json"), headers={"HX-Request": "true"})
    json_fields = dict(form_of(as_json.get_data(as_text=True)))
    assert json_fields["view"] == "json" and json.loads(json_fields["steps"]) == STARTER_STEPS
    typed = json.dumps(spec_flow(b["uuid"])["steps"])
    back = admin_client.post(base + "new/edit", data=posted(list(json_fields.items()), steps=typed, op="view:forms"))
    forms = form_of(back.get_data(as_text=True))
    assert ("view", "forms") in forms and ("s1.b0.s0.name", "page_dba") in forms and ("s1.b1.case", "default") in forms
    broken = admin_client.post(base + "new/edit", data=posted(list(json_fields.items()), steps="[{", op="view:forms"))
    page = broken.get_data(as_text=True)
    assert "is not valid JSON" in page and 'name="view" value="json"' in page  # stays on the JSON to fix it


def test_errors_show_beside_each_step_field_and_nothing_is_saved(api, admin_client, token, setup):  # noqa: F811
    a, _b = setup
    base = f"/integrations/{a['uuid']}/flows/"
    fields = form_of(admin_client.get(base + "new").get_data(as_text=True))
    response = admin_client.post(base + "new", data=posted(fields, name="Bad", **{"s0.url": "", "s1.comment": ""}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for where in ("s0.url", "s1.comment"):
        assert re.search(rf'data-error-for="{re.escape(where)}">Is required<', page), where
    assert str(escape("2 fields need fixing")) in page
    assert api.get(flows_url(a)).get_json()["items"] == []


def test_a_branch_without_a_value_is_marked_on_its_branch(api, admin_client, token, setup):  # noqa: F811
    a, b = setup
    api.post(flows_url(a), json=spec_flow(b["uuid"]))
    flow = api.get(flows_url(a)).get_json()["items"][0]
    page_url = f"/integrations/{a['uuid']}/flows/{flow['id']}"
    fields = form_of(admin_client.get(page_url).get_data(as_text=True))
    response = admin_client.post(page_url, data=posted(fields, **{"s1.b0.case": ""}))
    assert response.status_code == 422
    assert 'data-error-for="s1.b0.case">Give the value this branch matches, or default<' in response.get_data(as_text=True)
    assert api.get(flows_url(a, flow["id"])).get_json()["steps"] == spec_flow(b["uuid"])["steps"]


def test_the_trigger_fields_of_another_when_are_hidden_without_javascript(admin_client, setup):  # noqa: F811
    a, _b = setup
    page = admin_client.get(f"/integrations/{a['uuid']}/flows/new").get_data(as_text=True)
    assert re.search(r'data-show-when="alert.response" hidden>\s*<label for="triggerResponse"', page)
    assert re.search(r'data-show-when="alert.status" hidden>\s*<label for="triggerStatus"', page)


def test_the_editor_buttons_need_the_csrf_token(admin_client, token, setup):  # noqa: F811
    a, _b = setup
    url, press = f"/integrations/{a['uuid']}/flows/new/edit", {"view": "forms", "op": "add:", "kind:": "switch"}
    assert admin_client.post(url, data=press).status_code == 400
    answer = admin_client.post(url, data=dict(press, csrf_token=token), headers={"HX-Request": "true"})
    assert answer.status_code == 200 and 'name="s0.value"' in answer.get_data(as_text=True)
    assert answer.get_data(as_text=True).lstrip().startswith("<form")  # only the editor, for htmx to swap
