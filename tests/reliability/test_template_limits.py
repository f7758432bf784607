"""Issue 14 item 16: template limits are checked before the work. A custom mapping whose power
tower ran 5 s against its 1 s deadline, and a flow field whose nested powers ran 5.7 s, are now
refused at once, through the integration URL and a flow run, with a message saying why."""
import json
import time

from extensions import db
from models import FlowRun
from tests.support import make_config, send_alert

TOWER = "{{ ((3**4096)**4096) % 7 }}"
NESTED = "{{ (((9 ** 64) ** 64) ** 64) ** 64 }}"


def test_a_power_tower_in_a_custom_mapping_is_refused_at_once(api, client):
    cfg = make_config(api, name="Limits", template="custom", customMapping=json.dumps({"subject": TOWER}))
    started = time.process_time()  # this process's CPU: a loaded machine's waits do not count
    response = send_alert(client, cfg, {"anything": 1})
    elapsed = time.process_time() - started
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["message"].startswith("mapping.subject is not allowed: exponents"), body
    assert elapsed < 1.0, f"the mapping spent {elapsed:.2f} s of CPU before refusing"


def test_nested_powers_in_a_flow_field_fail_the_step_at_once(api, client, run_jobs):
    cfg = make_config(api, name="Limits")
    flow = api.post(f"/api/v1/configurations/{cfg['uuid']}/flows", json={
        "name": "Powers", "trigger": {"type": "alert.created"},
        "steps": [{"name": "note", "type": "update_alert", "action": "comment", "comment": NESTED}]})
    assert flow.status_code == 201, flow.get_json()
    assert send_alert(client, cfg, {"subject": "Disk full"}).status_code == 202
    run_jobs()
    (run,) = db.session.query(FlowRun).all()
    (step,) = run.steps
    assert run.status == "failed" and step["errorClass"] == "template", step
    assert "exponents" in step["error"] and step["durationMs"] < 2500, step  # unbounded: 5,700
