"""Running flows: branches, the template sandbox, failures, budgets, loops, and the sweeper."""
from datetime import timedelta

import pytest

from alerting.flows import engine
from alerting.flows.templates import FlowTemplateError, render
from extensions import db
from models import Alert, Configuration, FlowRun, TimelineEntry, utcnow
from tests.test_flows_api import flows_url
from tests.test_inbound import post


@pytest.fixture
def configs(api):
    return [api.post("/api/v1/configurations", json={"name": name}).get_json() for name in ("A", "B")]


def add_flow(api, config, steps, trigger=None, name="Flow"):
    response = api.post(flows_url(config), json={"name": name, "trigger": trigger or {"type": "alert.created"},
                                                 "steps": steps})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def runs_of(flow_id):
    db.session.remove()
    return db.session.query(FlowRun).filter_by(flow_id=flow_id).order_by(FlowRun.id).all()


def comment(name, text):
    return {"name": name, "type": "update_alert", "action": "comment", "comment": text}


def alerts_of(config):
    return db.session.query(Alert).join(Alert.configuration).filter(Configuration.uuid == config["uuid"]).all()


def timeline(alert_id, type_):
    return [t.detail for t in db.session.query(TimelineEntry).filter_by(alert_id=alert_id, type=type_)
            .order_by(TimelineEntry.id)]


@pytest.mark.parametrize("priority, branch", [("HIGH", "HIGH"), ("LOW", "default")])
def test_a_switch_on_priority_takes_the_matching_branch(api, client, configs, run_jobs, priority, branch):
    a, b = configs
    flow = add_flow(api, a, [{"name": "route", "type": "switch", "value": "{{ alert.priority }}", "cases": {
        "HIGH": [{"name": "page", "type": "create_alert", "configuration": b["uuid"], "priority": "HIGH",
                  "subject": "Paged: {{ alert.subject }}", "properties": {"From": "{{ alert.eventIdentifier }}"}}],
        "default": [comment("note", "{{ alert.priority | lower }} can wait")]}}])
    alert = post(client, a, {"subject": "Disk full", "priority": priority}).get_json()
    run_jobs()
    [run] = runs_of(flow["id"])
    assert run.status == "succeeded", run.error
    assert run.steps[0]["output"] == {"value": priority, "branch": branch}
    in_b = alerts_of(b)
    if branch == "HIGH":
        [paged] = in_b
        assert paged.subject == "Paged: Disk full" and paged.priority == "HIGH"
        assert paged.properties == {"From": str(alert["eventIdentifier"])}
        assert run.steps[1]["output"]["eventIdentifier"] == paged.id
        assert timeline(paged.id, "EVENT_CREATED")  # made through create_alert, as inbound alerts are
    else:
        assert in_b == []
        assert [s["name"] for s in run.steps] == ["route", "note"]
        assert timeline(alert["eventIdentifier"], "EVENT_ANNOTATED")[0]["comment"] == "low can wait"


ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ alert.__class__ }}",
    "{{ alert.properties.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__['os'] }}",
    "{% set ns = namespace() %}{{ ns.__class__.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ self._TemplateReference__context }}",
    "{{ alert.properties.update({'Host': 'pwned'}) }}",
    "{{ range.__self__ }}",
    "{{ request.application.__globals__ }}",
    "{{ config.items() }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_a_template_that_reaches_for_python_internals_fails_safely(api, client, configs, run_jobs, source):
    a, _b = configs
    flow = add_flow(api, a, [comment("sneaky", source), comment("after", "never")])
    alert = post(client, a, {"subject": "Disk full", "properties": {"Host": "db-1"}}).get_json()
    run_jobs()
    [run] = runs_of(flow["id"])
    assert run.status == "failed" and "sneaky" in run.error
    [step] = run.steps
    assert step["status"] == "failed" and step["errorClass"] == "template"
    assert step["input"] == {} and ("not allowed" in step["error"] or "undefined" in step["error"]
                                    or "no attribute" in step["error"])
    kept = db.session.get(Alert, alert["eventIdentifier"])
    assert kept.status == "ACTIVE" and kept.properties == {"Host": "db-1"}
    assert timeline(kept.id, "EVENT_ANNOTATED") == []
    assert timeline(kept.id, "FLOW_RUN")[-1]["status"] == "failed"


@pytest.mark.parametrize("source, words", [
    ("{% for i in range(5000) %}{% for j in range(5000) %}{% endfor %}{% endfor %}", "loop turns"),
    ("{% for i in range(100000) %}{% endfor %}", "range()"),
    ("{{ 'x' * 10000000 }}", "more than"),
    ("{{ '%999999999d' % 1 }}", "format widths"),
    ("{{ '{:>999999999}'.format(1) }}", "format widths"),
    ("{{ 'x'.ljust(999999999) }}", "ljust"),
    ("{% for i in range(1000) %}{{ 'y' * 100 }}{% endfor %}", "64 KiB"),
    ("{{ nothing_here }}", "'nothing_here' is undefined"),
    ("{{ 2 ** 100000 }}", "exponents"),
])
def test_templates_are_kept_within_bounds(source, words):
    with pytest.raises(FlowTemplateError) as caught:
        render(source, {"alert": {}, "trigger": {}, "steps": {}})
    assert words in str(caught.value)


def test_templates_render_json_and_earlier_steps():
    context = {"alert": {"subject": 'Disk "full"', "properties": {"Host": "db-1"}},
               "steps": {"ticket": {"status": 201, "json": {"ticket": "T-42"}}}, "trigger": {}}
    assert render('{"title": {{ alert.subject | tojson }}}', context) == '{"title": "Disk \\"full\\""}'
    assert render("{{ steps.ticket.status }} {{ steps.ticket.json.ticket }} {{ alert.properties.Host }}",
                  context) == "201 T-42 db-1"


def test_a_non_2xx_reply_fails_the_step_and_stops_the_run(api, client, configs, run_jobs, receiver):
    a, _b = configs
    receiver.script = [(500, {}, b"database on fire")]
    flow = add_flow(api, a, [{"name": "hook", "type": "http_request", "url": receiver.url + "/x",
                              "headers": {"Authorization": "Bearer s3cret"}, "body": "{{ alert.subject }}"},
                             comment("after", "never")])
    post(client, a, {"subject": "Disk full"})
    run_jobs()
    [run] = runs_of(flow["id"])
    [step] = run.steps
    assert run.status == "failed" and step["error"] == "http_status: HTTP 500 Internal Server Error"
    assert step["output"]["status"] == 500 and step["output"]["body"] == "database on fire"
    assert step["input"]["headers"]["Authorization"] == "••••"  # credentials are not kept in the record
    assert receiver.requests[0]["headers"]["Authorization"] == "Bearer s3cret"


def test_update_alert_terminates_the_alert_as_the_flow(api, client, configs, run_jobs):
    a, _b = configs
    add_flow(api, a, [{"name": "end", "type": "update_alert", "action": "terminate", "comment": "auto-closed"}],
             name="Closer")
    alert = post(client, a, {"subject": "Disk full"}).get_json()
    run_jobs()
    ended = db.session.get(Alert, alert["eventIdentifier"])
    assert ended.status == "TERMINATED_EXTERNAL"
    entry = db.session.query(TimelineEntry).filter_by(alert_id=ended.id, type="EVENT_TERMINATED").one()
    assert entry.actor == "flow:Closer" and entry.detail["reason"] == "auto-closed"


def test_a_deleted_target_configuration_fails_the_step(api, client, configs, run_jobs):
    a, b = configs
    flow = add_flow(api, a, [{"name": "page", "type": "create_alert", "configuration": b["uuid"]}])
    assert api.delete(f"/api/v1/configurations/{b['uuid']}").status_code == 204
    alert = post(client, a, {"subject": "Disk full"}).get_json()
    run_jobs()
    [run] = runs_of(flow["id"])
    assert run.status == "failed" and f"no configuration '{b['uuid']}'" in run.steps[0]["error"]
    assert db.session.get(Alert, alert["eventIdentifier"]).status == "ACTIVE"


def test_a_run_stops_at_its_step_budget(api, client, configs, run_jobs, monkeypatch):
    monkeypatch.setattr(engine, "STEP_BUDGET", 2)
    a, _b = configs
    flow = add_flow(api, a, [comment("one", "1"), comment("two", "2"), comment("three", "3")])
    post(client, a, {"subject": "Disk full"})
    run_jobs()
    [run] = runs_of(flow["id"])
    assert run.status == "failed" and "at most 2 steps" in run.error
    assert [s["name"] for s in run.steps] == ["one", "two"]


def test_a_run_stops_when_its_time_is_spent(api, client, configs, run_jobs, monkeypatch):
    # The budget is spent by the slow step, not before it: the step answers in 0.25 s (at least the
    # whole budget) under the HTTP step's 0.5 s floor of a timeout, so each side has 0.25 s to spare
    # on a loaded machine (with 0.1 s a CI pass once spent it before the first step began)
    monkeypatch.setattr(engine, "TIME_BUDGET", 0.25)
    a, _b = configs
    from tests.support import Receiver

    with Receiver(delay=0.25) as slow:
        flow = add_flow(api, a, [{"name": "slow", "type": "http_request", "url": slow.url, "body": "{}"},
                                 comment("after", "never")])
        post(client, a, {"subject": "Disk full"})
        run_jobs()
    [run] = runs_of(flow["id"])
    assert run.status == "failed" and "time budget" in run.error and "'after'" in run.error
    assert [s["name"] for s in run.steps] == ["slow"]


def test_flows_that_create_alerts_for_each_other_stop_after_three_levels(api, client, configs, run_jobs):
    a, _b = configs
    flow = add_flow(api, a, [{"name": "again", "type": "create_alert", "configuration": a["uuid"],
                              "subject": "echo of {{ alert.subject }}"}])
    post(client, a, {"subject": "Disk full"})
    run_jobs(rounds=10)
    subjects = [x.subject for x in db.session.query(Alert).order_by(Alert.id)]
    assert subjects == ["Disk full", "echo of Disk full", "echo of echo of Disk full",
                        "echo of echo of echo of Disk full"]
    runs = runs_of(flow["id"])
    assert [r.trigger["depth"] for r in runs] == [0, 1, 2, 3]
    assert [r.status for r in runs] == ["succeeded"] * 3 + ["failed"]
    assert "only 3 levels deep" in runs[-1].error


def test_flows_that_answer_each_others_status_changes_stop(api, client, configs, run_jobs):
    a, _b = configs
    flow = add_flow(api, a, [{"name": "flip", "type": "switch", "value": "{{ trigger.status }}", "cases": {
        "ACTIVE": [{"name": "pause", "type": "update_alert", "action": "suspend"}],
        "SUSPENDED": [{"name": "wake", "type": "update_alert", "action": "resume"}]}}],
        trigger={"type": "alert.status"})
    alert = post(client, a, {"subject": "Disk full"}).get_json()
    run_jobs(rounds=10)
    runs = runs_of(flow["id"])
    assert [r.status for r in runs] == ["succeeded"] * 4 + ["failed"]
    assert runs[-1].error.startswith("not run") and runs[-1].steps == []
    assert db.session.get(Alert, alert["eventIdentifier"]).status == "ACTIVE"


def test_the_sweeper_queues_a_lost_run_again_and_gives_up_a_stuck_one(api, client, configs, run_jobs):
    from runtime.queue import redis_conn

    a, _b = configs
    flow = add_flow(api, a, [comment("note", "hi")])
    alert = post(client, a, {"subject": "Disk full"}).get_json()
    redis_conn().flushdb()  # the queued job is lost
    [lost] = runs_of(flow["id"])
    assert lost.status == "pending"
    assert engine.sweep(utcnow()) == 0  # not yet: its job may still be on its way
    assert engine.sweep(utcnow() + timedelta(seconds=31)) == 1
    run_jobs()
    assert runs_of(flow["id"])[0].status == "succeeded"

    stuck = FlowRun(flow_id=flow["id"], alert_id=alert["eventIdentifier"], trigger={"type": "alert.created"},
                    status="running", steps=[], started_at=utcnow(), locked_until=utcnow() - timedelta(seconds=1))
    db.session.add(stuck)
    db.session.commit()
    assert engine.sweep(utcnow()) == 1
    stuck = runs_of(flow["id"])[1]
    assert stuck.status == "failed" and "not retried" in stuck.error
    assert timeline(alert["eventIdentifier"], "FLOW_RUN")[-1]["status"] == "failed"


def test_a_run_is_taken_by_one_worker_only(api, client, configs, run_jobs):
    a, _b = configs
    flow = add_flow(api, a, [comment("note", "once")])
    alert = post(client, a, {"subject": "Disk full"}).get_json()
    run_id = runs_of(flow["id"])[0].id
    assert engine.run_flow(run_id) == "succeeded"
    assert engine.run_flow(run_id) == "skipped"
    run_jobs()
    assert [d["comment"] for d in timeline(alert["eventIdentifier"], "EVENT_ANNOTATED")] == ["once"]
    [entry] = timeline(alert["eventIdentifier"], "FLOW_RUN")
    assert entry["flow"] == "Flow" and entry["status"] == "succeeded" and entry["runId"] == run_id
