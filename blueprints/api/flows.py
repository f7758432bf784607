"""/api/v1/configurations/<uuid>/flows: create, list, read, change and delete flows; their runs; test runs."""
from flask import jsonify, request

from alerting import flows
from alerting.errors import FieldError, NotFound
from alerting.flows.triggers import start_test_run
from alerting.ids import row_id
from blueprints.api import body, bp, page
from blueprints.api.configurations import get_configuration
from extensions import db
from models import Alert, Flow, FlowRun

BASE = "/configurations/<config_uuid>/flows"


def get_flow(config_uuid, flow_id) -> Flow:
    cfg = get_configuration(config_uuid)
    flow = db.session.query(Flow).filter_by(id=flow_id, configuration_id=cfg.id).first()
    if flow is None:
        raise NotFound(f"No flow {flow_id} in configuration {config_uuid!r}.")
    return flow


@bp.post(BASE)
def create_flow(config_uuid):
    """Create a flow: name, enabled, trigger {type, response?, status?} and steps."""
    flow = flows.save_flow(get_configuration(config_uuid), body())
    db.session.commit()
    return jsonify(flows.flow_json(flow)), 201


@bp.get(BASE)
def list_flows(config_uuid):
    """The configuration's flows, newest first."""
    cfg = get_configuration(config_uuid)
    return page(db.session.query(Flow).filter_by(configuration_id=cfg.id), Flow.id, flows.flow_json)


@bp.get(f"{BASE}/<int:flow_id>")
def get_flow_view(config_uuid, flow_id):
    """One flow."""
    return jsonify(flows.flow_json(get_flow(config_uuid, flow_id)))


@bp.patch(f"{BASE}/<int:flow_id>")
def update_flow(config_uuid, flow_id):
    """Change fields of a flow (send only what changes); the whole definition is checked again."""
    flow = get_flow(config_uuid, flow_id)
    flows.save_flow(flow.configuration, body(), flow)
    db.session.commit()
    return jsonify(flows.flow_json(flow))


@bp.delete(f"{BASE}/<int:flow_id>")
def delete_flow(config_uuid, flow_id):
    """Delete a flow and its runs."""
    flow = get_flow(config_uuid, flow_id)
    db.session.query(FlowRun).filter_by(flow_id=flow.id).delete(synchronize_session=False)
    db.session.delete(flow)
    db.session.commit()
    return "", 204


@bp.get(f"{BASE}/<int:flow_id>/runs")
def list_runs(config_uuid, flow_id):
    """The flow's runs, newest first, each with its steps' input, output, error and duration."""
    flow = get_flow(config_uuid, flow_id)
    return page(db.session.query(FlowRun).filter_by(flow_id=flow.id), FlowRun.id, flows.run_json, default_limit=20)


@bp.post(f"{BASE}/<int:flow_id>/test")
def test_flow(config_uuid, flow_id):
    """Queue a test run: on the sample alert (a dry run), or on {"alertId": ...} of this configuration."""
    flow = get_flow(config_uuid, flow_id)
    data = body() if request.content_length else {}
    alert = None
    if data.get("alertId") not in (None, ""):
        wanted = str(data["alertId"])
        query = db.session.query(Alert).filter_by(configuration_id=flow.configuration_id)
        number = row_id(wanted)
        alert = query.filter_by(id=number).first() if number is not None else query.filter_by(uuid=wanted).first()
        if alert is None:
            raise FieldError("alertId", f"no alert {wanted!r} in this configuration")
    run = start_test_run(flow, alert)
    db.session.commit()
    return jsonify(flows.run_json(run)), 202
