"""/api/v1/maintenance-windows (SPEC §10): create, list (with ``active``), end early, delete."""
from flask import jsonify

from alerting.errors import FieldError, NotFound
from alerting.ids import row_id
from alerting.maintenance import holds, windows
from blueprints.api import actor, body, bp, page
from extensions import db
from models import MaintenanceWindow


def get_window(window_id) -> MaintenanceWindow:
    number = row_id(window_id)
    window = db.session.get(MaintenanceWindow, number) if number is not None else None
    if window is None:
        raise NotFound(f"No maintenance window {window_id!r}.")
    return window


@bp.post("/maintenance-windows")
def create_window():
    """A one-off or recurring window for some configurations or "all"."""
    window = windows.create(body(), actor=actor())
    db.session.commit()
    return jsonify(windows.to_json(window)), 201


@bp.get("/maintenance-windows")
def list_windows():
    """Windows newest first, each with ``active`` (now) and its current or next occurrence."""
    return page(db.session.query(MaintenanceWindow), MaintenanceWindow.id, windows.to_json)


@bp.get("/maintenance-windows/<window_id>")
def get_window_view(window_id):
    return jsonify(windows.to_json(get_window(window_id)))


@bp.patch("/maintenance-windows/<window_id>")
def end_window(window_id):
    """{"end": <instant>}: end the window early (a one-off window may also be given a later end)."""
    data = body()
    window = get_window(window_id)
    extra = sorted(set(data) - {"end"})
    if extra:
        raise FieldError(extra[0], "cannot be changed; only end can (delete the window and make another)")
    if "end" not in data:
        raise FieldError("end", "is required")
    windows.end_early(window, data["end"])
    db.session.commit()
    return jsonify(windows.to_json(window))


@bp.delete("/maintenance-windows/<window_id>")
def delete_window(window_id):
    """Remove the window; alerts it held are released as at its end."""
    window = get_window(window_id)
    holds.window_deleted(window)
    db.session.delete(window)
    db.session.commit()
    return "", 204
