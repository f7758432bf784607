"""Maintenance: the list of windows, a form to make one (datetime-local + timezone), end now, delete;
and the banner every page shows while a window is active (``active_maintenance`` in base.html)."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import available_timezones

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from alerting.errors import FieldError
from alerting.maintenance import holds, windows
from blueprints.dashboard import bp
from blueprints.dashboard.forms import admin_required, error_status, field_errors, render, save_form
from extensions import db
from models import Configuration, MaintenanceWindow

PAGE = "dashboard/maintenance.html"
TIMEZONES = sorted(available_timezones() - {"localtime", "Factory"})
FREQUENCIES = (("", "Once"), ("DAILY", "Every day"), ("WEEKLY", "Every week"), ("MONTHLY", "Every month"))
# Valid values that stand in for refused required fields while the others are checked (never saved):
# a start before, and an end after, any the user may type, so no error names a field they got right.
STAND_INS = {"name": "form check", "start": "1971-01-01T00:00", "end": "2999-01-01T00:00", "configurations": "all"}
WEEKDAYS = (("MO", "Mon"), ("TU", "Tue"), ("WE", "Wed"), ("TH", "Thu"), ("FR", "Fri"), ("SA", "Sat"), ("SU", "Sun"))


@bp.app_template_global()
def active_maintenance() -> list[MaintenanceWindow]:
    """Windows active now, for the banner of every page (nothing before sign-in)."""
    if not current_user.is_authenticated:
        return []
    return windows.active_windows()


@bp.app_template_global()
def maintenance_of(alert_id: int) -> tuple[int | None, str] | None:
    """(window id, window name) of the window that held this alert quiet, for its badge."""
    return holds.window_of([alert_id]).get(alert_id)


def form_data(form) -> dict:
    """The camelCase body alerting.maintenance.windows.create validates, as the REST API sends it."""
    chosen = form.getlist("configuration")
    data = {"name": form.get("name", ""), "start": form.get("start", ""), "end": form.get("end", ""),
            "timezone": form.get("timezone") or "UTC", "notifyOnEnd": form.get("notifyOnEnd") == "on",
            "configurations": "all" if form.get("scope", "all") == "all" else chosen}
    if form.get("frequency"):
        data["recurrence"] = {"frequency": form["frequency"]}
        if form.getlist("byDay"):
            data["recurrence"]["byDay"] = form.getlist("byDay")
    return data


def page(values=None, errors=None, status=200):
    now = datetime.now(UTC)
    rows = [(w, windows.to_json(w, now)) for w in
            db.session.query(MaintenanceWindow).order_by(MaintenanceWindow.id.desc()).limit(200)]
    values = values or {"name": "", "start": "", "end": "", "timezone": "UTC", "scope": "all", "frequency": "",
                        "byDay": [], "configuration": [], "notifyOnEnd": False}
    return render(PAGE, None, status=status, rows=rows, values=values, errors=errors or {},
                  timezones=TIMEZONES, frequencies=FREQUENCIES, weekdays=WEEKDAYS,
                  configurations=db.session.query(Configuration).order_by(Configuration.name).all(),
                  names={c.uuid: c.name for c in db.session.query(Configuration)})


@bp.get("/maintenance")
@admin_required
def maintenance():
    return page()


@bp.post("/maintenance")
@admin_required
def create_maintenance():
    form = request.form
    try:
        window = save_form(lambda data: windows.create(data, actor=current_user.username), form_data(form), STAND_INS)
    except FieldError as exc:
        values = {"name": form.get("name", ""), "start": form.get("start", ""), "end": form.get("end", ""),
                  "timezone": form.get("timezone", "UTC"), "scope": form.get("scope", "all"),
                  "frequency": form.get("frequency", ""), "byDay": form.getlist("byDay"),
                  "configuration": form.getlist("configuration"), "notifyOnEnd": form.get("notifyOnEnd") == "on"}
        return page(values, field_errors(exc), error_status())
    flash(f"Maintenance window “{window.name}” saved.", "success")
    return redirect(url_for("dashboard.maintenance"))


def get_window(window_id: int) -> MaintenanceWindow:
    window = db.session.get(MaintenanceWindow, window_id)
    if window is None:
        abort(404)
    return window


@bp.post("/maintenance/<int:window_id>/end")
@admin_required
def end_maintenance(window_id):
    window = get_window(window_id)
    try:
        windows.end_early(window, datetime.now(UTC).isoformat())
    except FieldError:  # a one-off window that has not started: nothing to end
        db.session.rollback()
        flash(f"Maintenance window “{window.name}” has not started; delete it instead.", "error")
        return redirect(url_for("dashboard.maintenance"))
    db.session.commit()
    flash(f"Maintenance window “{window.name}” ended.", "success")
    return redirect(url_for("dashboard.maintenance"))


@bp.post("/maintenance/<int:window_id>/delete")
@admin_required
def delete_maintenance(window_id):
    window = get_window(window_id)
    name = window.name
    holds.window_deleted(window)
    db.session.delete(window)
    db.session.commit()
    flash(f"Maintenance window “{name}” deleted.", "success")
    return redirect(url_for("dashboard.maintenance"))
