"""/api/v1/alerts: list, get, change status, respond, annotate."""
from flask import jsonify, request

from alerting import validation as v
from alerting.alerts import create as alerting_alerts
from alerting.alerts.lifecycle import InvalidTransition, annotate, change_status
from alerting.errors import Conflict, FieldError, NotFound
from alerting.ids import row_id
from blueprints.api import actor, body, bp, by_status, page
from extensions import db
from models import STATUSES, Alert, Configuration

SETTABLE = ("ACTIVE", "SUSPENDED", "TERMINATED_EXTERNAL")


def get_alert(alert_id) -> Alert:
    """By alertId (uuid) or by eventIdentifier (the number people see)."""
    number = row_id(alert_id)
    alert = db.session.get(Alert, number) if number is not None else \
        db.session.query(Alert).filter_by(uuid=alert_id).first()
    if alert is None:
        raise NotFound(f"No alert {alert_id!r}.")
    return alert


@bp.get("/alerts")
def list_alerts():
    """Alerts newest first; filters: status, configuration (uuid), priority; limit and cursor."""
    query = by_status(db.session.query(Alert), Alert.status, STATUSES, str.upper)
    priority = request.args.get("priority")
    if priority:
        query = query.filter(Alert.priority == v.priority(priority))
    config_uuid = request.args.get("configuration")
    if config_uuid:
        cfg = db.session.query(Configuration).filter_by(uuid=config_uuid).first()
        if cfg is None:
            raise FieldError("configuration", f"no configuration {config_uuid!r}")
        query = query.filter(Alert.configuration_id == cfg.id)
    return page(query, Alert.id, alerting_alerts.to_json)


@bp.get("/alerts/<alert_id>")
def get_alert_view(alert_id):
    """One alert with its timeline, notifications and responses."""
    return jsonify(alerting_alerts.to_json(get_alert(alert_id), detail=True))


@bp.post("/alerts/<alert_id>/status")
def set_status(alert_id):
    """Suspend (SUSPENDED), resume (ACTIVE) or end (TERMINATED_EXTERNAL) an alert."""
    data = body()
    status = data.get("status")
    if not isinstance(status, str) or status.upper() not in SETTABLE:
        raise FieldError("status", "must be one of " + ", ".join(SETTABLE))
    alert = get_alert(alert_id)
    try:
        change_status(alert, status.upper(), actor=actor(), reason=v.text(data.get("reason"), "reason") or None)
    except InvalidTransition as exc:
        raise Conflict(str(exc)) from None
    db.session.commit()
    return jsonify(alerting_alerts.to_json(alert, detail=True))


@bp.post("/alerts/<alert_id>/annotations")
def add_annotation(alert_id):
    """Add a comment to the alert's timeline."""
    comment = v.text(body().get("comment"), "comment", max_len=5000, required=True)
    alert = get_alert(alert_id)
    annotate(alert, comment, actor=actor())
    db.session.commit()
    return jsonify(alerting_alerts.to_json(alert, detail=True)), 201


@bp.post("/alerts/<alert_id>/responses")
def add_response(alert_id):
    """Record a recipient's response (an option of the alert) and apply its action."""
    from alerting.notifications.responses import REST_API_DEVICE, record_response

    data = body()
    alert = get_alert(alert_id)
    record_response(alert, recipient=v.text(data.get("recipient"), "recipient", max_len=64, required=True),
                    option_text=v.text(data.get("response"), "response", max_len=100, required=True),
                    comment=v.text(data.get("comment"), "comment", max_len=5000) or None,
                    device=REST_API_DEVICE)
    db.session.commit()
    return jsonify(alerting_alerts.to_json(alert, detail=True)), 201
