"""Maintenance windows (SPEC §10) and the alerts they held."""
from models.base import db, utcnow


class MaintenanceWindow(db.Model):
    """A one-off or recurring wall-clock window in ``timezone``; ``start``/``end`` are naive local times."""
    __tablename__ = "maintenance_windows"
    id = db.Column(db.Integer, primary_key=True)  # the public window id
    name = db.Column(db.String(200), nullable=False)
    start = db.Column(db.DateTime, nullable=False)  # wall clock of the first occurrence
    end = db.Column(db.DateTime, nullable=False)
    timezone = db.Column(db.String(64), nullable=False, default="UTC")
    recurrence = db.Column(db.JSON)  # SPEC §9's recurrence object, or None for a one-off window
    all_configurations = db.Column(db.Boolean, nullable=False, default=False)
    configuration_uuids = db.Column(db.JSON, nullable=False, default=list)
    notify_on_end = db.Column(db.Boolean, nullable=False, default=False)
    ended_at = db.Column(db.DateTime)  # UTC: ended early (PATCH end); no occurrence is active after it
    created_by = db.Column(db.String(64))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class MaintenanceHold(db.Model):
    """An alert created inside a window: notified nobody; with ``notify_on_end``, released at ``ends_at``.

    ``released_at`` is set by one conditional UPDATE, so a release happens once on any number of workers.
    """
    __tablename__ = "maintenance_holds"
    alert_id = db.Column(db.Integer, db.ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    window_id = db.Column(db.Integer, db.ForeignKey("maintenance_windows.id", ondelete="SET NULL"), index=True)
    window_name = db.Column(db.String(200), nullable=False)
    notify_on_end = db.Column(db.Boolean, nullable=False, default=False)
    flooded = db.Column(db.Boolean, nullable=False, default=False)  # flood control held it too: stays quiet
    ends_at = db.Column(db.DateTime, nullable=False, index=True)  # UTC end of the occurrence it arrived in
    released_at = db.Column(db.DateTime)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
