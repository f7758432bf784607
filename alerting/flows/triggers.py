"""Starting flows: the events listener that writes a FlowRun for each matching flow (SPEC §5).

The run row is written in the transaction of the change that caused it and its job is queued
after commit, so a flow runs at least once per event and never inside the web request. Each
run carries the depth of the event that started it: events caused by a flow's own steps (and
everything that later happens to an alert a flow created) are one level deeper, so flows that
feed each other stop after a few levels instead of looping forever.
"""
from __future__ import annotations

from alerting.configurations import sample_payload
from alerting.events import AlertCreated, NotificationSettled, ResponseRecorded, StatusChanged
from alerting.flows.engine import DEPTH_KEY, queue_run
from alerting.flows.steps import MAX_DEPTH
from extensions import db
from models import Alert, Configuration, Flow, FlowRun, TimelineEntry, utcnow

# A flow's trigger type (SPEC §5, product vocabulary stored in each flow) for each event that starts flows.
TRIGGER_TYPE = {AlertCreated: "alert.created", StatusChanged: "alert.status",
                NotificationSettled: "notification.delivery", ResponseRecorded: "alert.response"}
TRIGGER_TYPES = tuple(TRIGGER_TYPE.values())
Event = AlertCreated | StatusChanged | NotificationSettled | ResponseRecorded


def matches(trigger: dict, event: Event) -> bool:
    """Does a flow's trigger fire on this event? (``response`` and ``status`` compare in any case.)"""
    if (trigger or {}).get("type") != TRIGGER_TYPE.get(type(event)):
        return False
    if trigger.get("response"):
        response = getattr(event, "response", None)
        text = getattr(response, "response", None) or ""
        if text.strip().lower() != trigger["response"].strip().lower():
            return False
    wanted = trigger.get("status")
    return not wanted or str(getattr(event, "status", None) or "").upper() == wanted.upper()


def describe(event: Event) -> dict:
    """The event as JSON: the ``trigger`` templates see and the run keeps."""
    kind = TRIGGER_TYPE[type(event)]
    if isinstance(event, NotificationSettled):
        note = event.notification
        return {"type": kind, "recipient": note.recipient, "device": note.device_name, "deviceId": note.device_id,
                "deliveryStatus": "Delivered" if event.delivered else "Failed", "message": event.message}
    if isinstance(event, ResponseRecorded):
        response = event.response
        return {"type": kind, "recipient": event.recipient or response.recipient, "device": event.device,
                "response": response.response, "action": response.action, "annotation": event.annotation}
    if isinstance(event, StatusChanged):
        return {"type": kind, "status": event.status, "username": event.username}
    return {"type": kind, "username": event.username}


def carried_depth(alert: Alert) -> int:
    """How many flows deep the alert was made: 0 unless a flow's create_alert step made it."""
    for (detail,) in db.session.query(TimelineEntry.detail).filter_by(alert_id=alert.id, type="FLOW_RUN"):
        if (detail or {}).get("createdByFlow"):
            return int(detail.get("depth") or 0)
    return 0


def event_depth(alert: Alert) -> int:
    """The depth of an event now: one below the running flow step that caused it, or the alert's own."""
    return max(db.session.info.get(DEPTH_KEY) or 0, carried_depth(alert))


def enabled_flows(configuration_id: int) -> list[Flow]:
    """The configuration's enabled flows, read once per session (a job may emit thousands of events)."""
    cache = db.session.info.setdefault("klaxon_enabled_flows", {})
    if configuration_id not in cache:
        cache[configuration_id] = db.session.query(Flow).filter_by(
            configuration_id=configuration_id, enabled=True).order_by(Flow.id).all()
    return cache[configuration_id]


def on_event(event: Event) -> list[FlowRun]:
    """Listener: a pending FlowRun, queued after commit, for each enabled flow the event matches."""
    alert = event.alert
    flows = [f for f in enabled_flows(alert.configuration_id) if matches(f.trigger, event)]
    if not flows:
        return []
    trigger = dict(describe(event), depth=event_depth(alert))
    runs = []
    for flow in flows:
        run = FlowRun(flow_id=flow.id, alert_id=alert.id, trigger=trigger, status="pending", steps=[],
                      created_at=utcnow())
        if trigger["depth"] > MAX_DEPTH:
            run.status, run.finished_at = "failed", run.created_at
            run.error = f"not run: the event came from a chain of {trigger['depth']} flows (the limit is {MAX_DEPTH})"
        db.session.add(run)
        db.session.flush()
        if run.status == "pending":
            queue_run(run)
        runs.append(run)
    return runs


def sample_alert(cfg: Configuration) -> dict:
    """The alert a test run sees when no real alert is chosen: the configuration's sample payload."""
    sample = sample_payload(cfg)
    return {"alertId": "sample", "eventIdentifier": 0, "status": "ACTIVE", "priority": sample["priority"],
            "subject": sample["subject"], "message": sample["message"], "properties": sample["properties"],
            "dedupKey": sample.get("dedupKey"), "configuration": cfg.uuid}


def sample_trigger(flow: Flow, alert: Alert | None) -> dict:
    """An event of the flow's trigger type, for a test run."""
    kind = flow.trigger.get("type", "alert.created")
    trigger = {"type": kind, "test": True}
    if kind == "alert.status":
        trigger.update(status=flow.trigger.get("status") or "ACTIVE", username=None)
    elif kind == "notification.delivery":
        trigger.update(recipient="sample", device="Work Email", deviceId=None, deliveryStatus="Delivered",
                       message="Notification delivered")
    elif kind == "alert.response":
        options = (alert.response_options if alert else flow.configuration.response_options) or []
        text = flow.trigger.get("response") or (options[0]["text"] if options else "Acknowledge")
        action = next((o["action"] for o in options if o["text"].lower() == text.lower()), "RECORD_RESPONSE")
        trigger.update(recipient="sample", device=None, response=text, action=action, annotation=None)
    else:
        trigger.update(username=None)
    return trigger


def start_test_run(flow: Flow, alert: Alert | None = None) -> FlowRun:
    """Queue a run of ``flow`` now, whatever its trigger and even if disabled.

    With ``alert`` the run acts on that real alert. Without, it sees the configuration's sample
    alert and is a dry run: ``http_request`` steps are sent for real (that is what a test is
    for), while ``create_alert`` and ``update_alert`` only show what they would have done.
    """
    trigger = sample_trigger(flow, alert)
    trigger["depth"] = carried_depth(alert) if alert else 0
    if alert is None:
        trigger["sampleAlert"] = sample_alert(flow.configuration)
    run = FlowRun(flow_id=flow.id, alert_id=alert.id if alert else None, trigger=trigger, status="pending",
                  steps=[], created_at=utcnow())
    db.session.add(run)
    db.session.flush()
    queue_run(run)
    return run
