"""Flows (a trigger and steps on a configuration) and the record of each run."""
from models.base import db, utcnow


class Flow(db.Model):
    __tablename__ = "flows"
    id = db.Column(db.Integer, primary_key=True)
    configuration_id = db.Column(db.Integer, db.ForeignKey("configurations.id", ondelete="CASCADE"),
                                 nullable=False, index=True)
    name = db.Column(db.String(200), nullable=False)
    enabled = db.Column(db.Boolean, nullable=False, default=True)
    trigger = db.Column(db.JSON, nullable=False, default=dict)
    steps = db.Column(db.JSON, nullable=False, default=list)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    configuration = db.relationship("Configuration")


class FlowRun(db.Model):
    __tablename__ = "flow_runs"
    id = db.Column(db.Integer, primary_key=True)
    flow_id = db.Column(db.Integer, db.ForeignKey("flows.id", ondelete="CASCADE"), nullable=False, index=True)
    alert_id = db.Column(db.Integer, db.ForeignKey("alerts.id", ondelete="SET NULL"), index=True)
    trigger = db.Column(db.JSON, nullable=False, default=dict)  # the event that started it
    status = db.Column(db.String(16), nullable=False, default="pending")  # pending|running|succeeded|failed
    steps = db.Column(db.JSON, nullable=False, default=list)  # [{name, type, status, input, output, error, durationMs}]
    error = db.Column(db.Text)
    locked_until = db.Column(db.DateTime)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    started_at = db.Column(db.DateTime)
    finished_at = db.Column(db.DateTime)
    flow = db.relationship("Flow")
