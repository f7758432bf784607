"""Alerts, their notifications, responses, escalation targets and timeline."""
from sqlalchemy import Index, UniqueConstraint, text

from models.base import db, new_uuid, utcnow

STATUSES = ("ACTIVE", "SUSPENDED", "TERMINATED", "TERMINATED_EXTERNAL")
OPEN_STATUSES = ("ACTIVE", "SUSPENDED")
RESPONSE_ACTIONS = ("RECORD_RESPONSE", "STOP_NOTIFYING_USER", "STOP_NOTIFYING_TARGET",
                    "ESCALATE", "END", "ASSIGN_TO_USER")


UNDISPATCHED_ROWS = text("dispatched_at IS NULL")  # ix_alerts_undispatched's rows, on either database


class Alert(db.Model):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_dedup", "configuration_id", "dedup_key", "status"),
        Index("ix_alerts_status_id", "status", "id"),
        Index("ix_alerts_configuration_id_id", "configuration_id", "id"),
        # the new alerts the workers claim (dispatch.claim_pending): without it every look and claim
        # walked all the ACTIVE alerts in ix_alerts_status_id to find the few undispatched ones
        Index("ix_alerts_undispatched", "status", "id", sqlite_where=UNDISPATCHED_ROWS,
              postgresql_where=UNDISPATCHED_ROWS),
    )
    id = db.Column(db.Integer, primary_key=True)  # the public eventIdentifier
    uuid = db.Column(db.String(36), unique=True, nullable=False, default=new_uuid)
    request_id = db.Column(db.String(36), nullable=False, default=new_uuid)
    configuration_id = db.Column(db.Integer, db.ForeignKey("configurations.id", ondelete="CASCADE"), nullable=False)
    status = db.Column(db.String(24), nullable=False, default="ACTIVE")
    priority = db.Column(db.String(8), nullable=False, default="MEDIUM")
    subject = db.Column(db.Text, nullable=False, default="")
    message = db.Column(db.Text, nullable=False, default="")
    properties = db.Column(db.JSON, nullable=False, default=dict)
    dedup_key = db.Column(db.String(255))
    duplicate_count = db.Column(db.Integer, nullable=False, default=0)
    recipients = db.Column(db.JSON, nullable=False, default=list)
    unresolved_recipients = db.Column(db.JSON, nullable=False, default=list)
    response_options = db.Column(db.JSON, nullable=False, default=list)
    suppressed = db.Column(db.Boolean, nullable=False, default=False)  # flood control held its messages
    # the trigger asked for escalationOverride: escalating groups notify every member at once
    escalation_override = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    assigned_user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    expires_at = db.Column(db.DateTime, index=True)
    dispatched_at = db.Column(db.DateTime)  # recipients resolved and first wave queued
    first_delivered_at = db.Column(db.DateTime)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    terminated_at = db.Column(db.DateTime)
    configuration = db.relationship("Configuration")
    assigned_user = db.relationship("User")

    @property
    def event_identifier(self):
        return self.id

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES


class AlertTarget(db.Model):
    """One recipient of an alert as given (PERSON, GROUP or DEVICE) and who is due next."""
    __tablename__ = "alert_targets"
    id = db.Column(db.Integer, primary_key=True)
    alert_id = db.Column(db.Integer, db.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True)
    recipient_type = db.Column(db.String(8), nullable=False)
    recipient_id = db.Column(db.String(200), nullable=False)
    group_id = db.Column(db.Integer, db.ForeignKey("groups.id", ondelete="SET NULL"))
    next_position = db.Column(db.Integer, nullable=False, default=0)
    next_at = db.Column(db.DateTime, index=True)  # when the next escalation step is due; None = nothing due
    state = db.Column(db.String(16), nullable=False, default="active")  # active | stopped | done
    locked_until = db.Column(db.DateTime)


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_status_next", "status", "next_attempt_at"),)
    id = db.Column(db.Integer, primary_key=True)
    alert_id = db.Column(db.Integer, db.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True)
    target_id = db.Column(db.Integer, db.ForeignKey("alert_targets.id", ondelete="SET NULL"))
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    device_id = db.Column(db.Integer, db.ForeignKey("devices.id", ondelete="SET NULL"))
    recipient = db.Column(db.String(64), nullable=False)
    device_name = db.Column(db.String(100), nullable=False)
    kind = db.Column(db.String(16), nullable=False)
    status = db.Column(db.String(16), nullable=False, default="Queued")  # Queued | Delivered | Failed
    attempts = db.Column(db.Integer, nullable=False, default=0)
    next_attempt_at = db.Column(db.DateTime)
    locked_until = db.Column(db.DateTime)
    result = db.Column(db.Text)  # delivery note or error
    is_test = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    delivered_at = db.Column(db.DateTime)
    alert = db.relationship("Alert")
    device = db.relationship("Device")


class Response(db.Model):
    __tablename__ = "responses"
    # one response per (message, option): the same option twice is refused by the database itself
    __table_args__ = (UniqueConstraint("notification_id", "response", name="uq_responses_notification_response"),)
    id = db.Column(db.Integer, primary_key=True)
    alert_id = db.Column(db.Integer, db.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True)
    notification_id = db.Column(db.Integer, db.ForeignKey("notifications.id", ondelete="SET NULL"))
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    recipient = db.Column(db.String(64), nullable=False)
    device_name = db.Column(db.String(100))
    response = db.Column(db.String(200), nullable=False)
    action = db.Column(db.String(32), nullable=False)
    comment = db.Column(db.Text)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class DedupKey(db.Model):
    """One row per (configuration, dedup key) ever triggered: the row concurrent triggers of that key lock.

    Holding it (SELECT … FOR UPDATE) while looking for the open alert makes "find or create"
    one step, so 100 concurrent triggers of one new key create one alert, not one per process.
    """
    __tablename__ = "dedup_keys"
    configuration_id = db.Column(db.Integer, db.ForeignKey("configurations.id", ondelete="CASCADE"),
                                 primary_key=True)
    dedup_key = db.Column(db.String(255), primary_key=True)


class TimelineEntry(db.Model):
    __tablename__ = "timeline_entries"
    id = db.Column(db.Integer, primary_key=True)
    alert_id = db.Column(db.Integer, db.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True)
    type = db.Column(db.String(32), nullable=False)
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    actor = db.Column(db.String(64))
    detail = db.Column(db.JSON, nullable=False, default=dict)
