"""Alerts: the live list with filters, and one alert's detail with its timeline and actions."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from alerting.alerts.lifecycle import InvalidTransition, annotate, change_status
from alerting.errors import Conflict, FieldError
from alerting.notifications.responses import record_response
from blueprints.dashboard import bp
from blueprints.dashboard.forms import Page, error_status, filtered, is_htmx, list_filters, page_number, render
from extensions import db
from models import PRIORITIES, STATUSES, Alert, Configuration, Notification, Response, TimelineEntry, WebhookMessage

LIST = "dashboard/alerts.html"
DETAIL = "dashboard/alert.html"
ACTIONS = {"suspend": ("SUSPENDED", "Suspended"), "resume": ("ACTIVE", "Resumed"),
           "terminate": ("TERMINATED_EXTERNAL", "Terminated")}


# The device of a response given with the alert page's buttons (as REST_API_DEVICE names the API's).
DASHBOARD_DEVICE = "Dashboard"


def last_responses(alert_ids: list[int]) -> dict[int, Response]:
    """The newest response of each of these alerts, in one query (the list shows who responded last)."""
    if not alert_ids:
        return {}
    newest = db.session.query(db.func.max(Response.id)).filter(Response.alert_id.in_(alert_ids)) \
        .group_by(Response.alert_id)
    return {r.alert_id: r for r in db.session.query(Response).filter(Response.id.in_(newest.scalar_subquery()))}


def filtered_alerts(filters: dict):
    query = filtered(db.session.query(Alert), filters, {"status": Alert.status, "priority": Alert.priority},
                     Alert.configuration_id)
    return query.order_by(Alert.id.desc())


def list_context() -> dict:
    filters = list_filters({"status": STATUSES, "priority": PRIORITIES})
    page = Page(filtered_alerts(filters), page_number())
    args = {k: v for k, v in filters.items() if v}
    return {"filters": filters, "page": page, "args": args, "statuses": STATUSES, "priorities": PRIORITIES,
            "last_responses": last_responses([a.id for a in page.items]),
            "configurations": db.session.query(Configuration).order_by(Configuration.name).all()}


@bp.get("/alerts")
def alerts():
    return render(LIST, "results", **list_context())


@bp.get("/alerts/rows")
def alert_rows():
    """The table body alone, polled every 3 s by the list."""
    return render(LIST, "rows", **list_context())


def get_alert(event_id: int) -> Alert:
    alert = db.session.get(Alert, event_id)
    if alert is None:
        abort(404)
    return alert


def activity(alert: Alert) -> dict:
    """Timeline, notifications, responses and update webhooks of one alert."""
    by_alert = {"alert_id": alert.id}
    return {
        "timeline": db.session.query(TimelineEntry).filter_by(**by_alert).order_by(TimelineEntry.id).all(),
        "notifications": db.session.query(Notification).filter_by(**by_alert).order_by(Notification.id).all(),
        "responses": db.session.query(Response).filter_by(**by_alert).order_by(Response.id).all(),
        "messages": db.session.query(WebhookMessage).filter_by(**by_alert).order_by(WebhookMessage.id).all(),
    }


def still_moving(alert: Alert, found: dict) -> bool:
    """Poll while something can still change: the alert is open or a message is on its way."""
    return alert.is_open or any(n.status == "Queued" for n in found["notifications"]) or \
        any(m.status == "pending" for m in found["messages"])


def nobody_notified(alert: Alert, found: dict) -> str | None:
    """A plain sentence when this alert reaches no one (as the 202's warnings say it), else None."""
    unresolved = alert.unresolved_recipients or []
    if not alert.recipients and not unresolved:
        return ("Nobody will be notified: this alert has no recipients (none in the trigger, none on the "
                "configuration). Add recipients to the configuration in its Settings.")
    if unresolved and all(r in unresolved for r in alert.recipients or []):
        return "Nobody will be notified: none of this alert's recipients is a user, group or device in Klaxon."
    if alert.dispatched_at and not alert.suppressed and not found["notifications"]:
        return "Nobody was notified: none of this alert's recipients has an enabled device."
    return None


def detail(alert: Alert, block=None, status=200, errors=None, comment=""):
    found = activity(alert)
    last = found["responses"][-1] if found["responses"] else None
    return render(DETAIL, block, status=status, alert=alert, polling=still_moving(alert, found), last_response=last,
                  errors=errors or {}, comment=comment, nobody=nobody_notified(alert, found), **found)


@bp.get("/alerts/<int:event_id>")
def alert_detail(event_id):
    return detail(get_alert(event_id))


@bp.get("/alerts/<int:event_id>/activity")
def alert_activity(event_id):
    """The activity panel alone, polled while the alert can still change."""
    return detail(get_alert(event_id), "activity")


def done(alert: Alert, message: str):
    if is_htmx():
        return detail(alert, "alert")
    flash(message, "success")
    return redirect(url_for("dashboard.alert_detail", event_id=alert.id))


@bp.post("/alerts/<int:event_id>/status")
def alert_status(event_id):
    alert = get_alert(event_id)
    action = request.form.get("action", "")
    if action not in ACTIONS:
        abort(400)
    status, verb = ACTIONS[action]
    try:
        change_status(alert, status, actor=current_user.username, reason="from the dashboard")
        db.session.commit()
    except InvalidTransition:
        db.session.rollback()
        message = f"This alert is {alert.status.replace('_', ' ').lower()}; it cannot be {verb.lower()}."
        return detail(alert, "alert" if is_htmx() else None, status=error_status() if is_htmx() else 409,
                      errors={"status": message})
    return done(alert, f"{verb} alert #{alert.id}.")


@bp.post("/alerts/<int:event_id>/comments")
def alert_comment(event_id):
    alert = get_alert(event_id)
    comment = request.form.get("comment", "").strip()
    if not comment or len(comment) > 5000:
        problem = "Write a comment first." if not comment else "At most 5000 characters."
        return detail(alert, "alert", status=error_status(), errors={"comment": problem}, comment=comment)
    annotate(alert, comment, actor=current_user.username)
    db.session.commit()
    return done(alert, "Comment added to the timeline.")


@bp.post("/alerts/<int:event_id>/respond")
def alert_respond(event_id):
    """Respond to the alert as the signed-in user with one of its options (the alert page's buttons)."""
    alert = get_alert(event_id)
    option = request.form.get("response", "")
    mine = [r for r in activity(alert)["responses"] if r.user_id == current_user.id]
    if mine and mine[-1].response.lower() == option.strip().lower():  # the same button twice: say so, add nothing
        return detail(alert, "alert" if is_htmx() else None, status=error_status() if is_htmx() else 409,
                      errors={"respond": f"Your response {mine[-1].response!r} is already recorded."})
    try:
        response = record_response(alert, current_user.username, option, actor=current_user.username,
                                   device=DASHBOARD_DEVICE)
        db.session.commit()
    except (Conflict, FieldError) as exc:
        db.session.rollback()
        return detail(get_alert(event_id), "alert" if is_htmx() else None,
                      status=error_status() if is_htmx() else 409, errors={"respond": str(exc)})
    return done(alert, f"Recorded your response {response.response!r}.")
