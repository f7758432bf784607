"""Heartbeats (SPEC §10): a `heartbeat` configuration's schedule, its outage state and recent pings."""
from sqlalchemy import Index

from models.base import db, utcnow


class Heartbeat(db.Model):
    """Late at ``late_at`` (last ping + interval), down at ``due_at`` (+ grace); ``down_at`` marks an outage.

    ``down_at`` is claimed by one conditional UPDATE, so one outage opens one alert on any number of
    workers and across restarts; the next ping clears it the same way and ends ``alert_id``.
    """
    __tablename__ = "heartbeats"
    id = db.Column(db.Integer, primary_key=True)
    configuration_id = db.Column(db.Integer, db.ForeignKey("configurations.id", ondelete="CASCADE"),
                                 nullable=False, unique=True)
    interval_minutes = db.Column(db.Integer, nullable=False, default=60)
    grace_minutes = db.Column(db.Integer, nullable=False, default=5)
    last_ping_at = db.Column(db.DateTime)
    late_at = db.Column(db.DateTime)
    due_at = db.Column(db.DateTime, index=True)
    down_at = db.Column(db.DateTime)
    alert_id = db.Column(db.Integer, db.ForeignKey("alerts.id", ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    configuration = db.relationship("Configuration")


class HeartbeatPing(db.Model):
    """One ping as it arrived; only the newest ``alerting.heartbeats.KEEP_PINGS`` per heartbeat are kept."""
    __tablename__ = "heartbeat_pings"
    __table_args__ = (Index("ix_heartbeat_pings_heartbeat_id_id", "heartbeat_id", "id"),)
    id = db.Column(db.Integer, primary_key=True)
    heartbeat_id = db.Column(db.Integer, db.ForeignKey("heartbeats.id", ondelete="CASCADE"), nullable=False)
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    method = db.Column(db.String(8), nullable=False)
    remote_addr = db.Column(db.String(64))
    user_agent = db.Column(db.String(200))
    ended_outage = db.Column(db.Boolean, nullable=False, default=False)
