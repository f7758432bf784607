"""The outbox of update webhooks and the log of every attempt."""
import secrets

from sqlalchemy import Index

from models.base import db, utcnow

MESSAGE_STATUSES = ("pending", "delivered", "dead", "skipped")


def new_message_id():
    return "msg_" + secrets.token_hex(12)


class WebhookMessage(db.Model):
    """One update to post; written in the same transaction as the change that caused it."""
    __tablename__ = "webhook_messages"
    __table_args__ = (
        Index("ix_webhook_messages_due", "status", "next_attempt_at"),
        Index("ix_webhook_messages_endpoint_status", "endpoint_id", "status"),
    )
    id = db.Column(db.Integer, primary_key=True)
    msg_id = db.Column(db.String(40), unique=True, nullable=False, default=new_message_id)
    configuration_id = db.Column(db.Integer, db.ForeignKey("configurations.id", ondelete="CASCADE"), nullable=False)
    endpoint_id = db.Column(db.Integer, db.ForeignKey("update_endpoints.id", ondelete="CASCADE"), nullable=False)
    alert_id = db.Column(db.Integer, db.ForeignKey("alerts.id", ondelete="SET NULL"), index=True)
    update_type = db.Column(db.String(32), nullable=False)  # an endpoint's type, or recipient_failure
    url = db.Column(db.Text, nullable=False)
    body = db.Column(db.Text, nullable=False)
    status = db.Column(db.String(16), nullable=False, default="pending")
    attempts = db.Column(db.Integer, nullable=False, default=0)
    next_attempt_at = db.Column(db.DateTime, default=utcnow)
    locked_until = db.Column(db.DateTime)
    last_status_code = db.Column(db.Integer)
    last_error = db.Column(db.Text)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    delivered_at = db.Column(db.DateTime)
    endpoint = db.relationship("UpdateEndpoint")
    attempts_log = db.relationship("WebhookAttempt", back_populates="message", order_by="WebhookAttempt.id",
                                   cascade="all, delete-orphan")


class WebhookAttempt(db.Model):
    __tablename__ = "webhook_attempts"
    id = db.Column(db.Integer, primary_key=True)
    message_id = db.Column(db.Integer, db.ForeignKey("webhook_messages.id", ondelete="CASCADE"),
                           nullable=False, index=True)
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    url = db.Column(db.Text, nullable=False)
    status_code = db.Column(db.Integer)
    duration_ms = db.Column(db.Integer, nullable=False, default=0)
    error_class = db.Column(db.String(32))
    error = db.Column(db.Text)
    response_body = db.Column(db.Text)
    message = db.relationship("WebhookMessage", back_populates="attempts_log")
