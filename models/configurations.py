"""Integrations (configurations of a workflow template) and their update endpoints."""
from sqlalchemy import UniqueConstraint

from .base import db, new_uuid, utcnow

TEMPLATES = ("webhook", "alertmanager", "grafana", "pagerduty", "custom")
PRIORITIES = ("HIGH", "MEDIUM", "LOW")
UPDATE_TYPES = ("status", "delivery", "response")


class Configuration(db.Model):
    __tablename__ = "configurations"
    id = db.Column(db.Integer, primary_key=True)
    uuid = db.Column(db.String(36), unique=True, nullable=False, default=new_uuid)
    template = db.Column(db.String(32), nullable=False, default="webhook")
    name = db.Column(db.String(200), nullable=False)
    description = db.Column(db.Text, nullable=False, default="")
    sender_name = db.Column(db.String(200), nullable=False, default="")
    priority = db.Column(db.String(8), nullable=False, default="MEDIUM")
    recipients = db.Column(db.JSON, nullable=False, default=list)
    response_options = db.Column(db.JSON, nullable=False, default=list)
    api_key = db.Column(db.String(128), nullable=False)
    # [{"secret": "whsec_...", "createdAt": iso, "expiresAt": iso|None}], newest first
    signing_secrets = db.Column(db.JSON, nullable=False, default=list)
    include_subject_and_message = db.Column(db.Boolean, nullable=False, default=False)
    enabled = db.Column(db.Boolean, nullable=False, default=True)
    rate_limit_per_minute = db.Column(db.Integer, nullable=False, default=600)
    dedup_window_minutes = db.Column(db.Integer, nullable=False, default=1440)
    flood_limit_per_minute = db.Column(db.Integer, nullable=False, default=0)
    custom_mapping = db.Column(db.Text)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    endpoints = db.relationship("UpdateEndpoint", back_populates="configuration",
                                cascade="all, delete-orphan")

    def endpoint(self, update_type):
        return next((e for e in self.endpoints if e.update_type == update_type), None)


class UpdateEndpoint(db.Model):
    """One update type (status, delivery, response) of a configuration: checkbox, URL and health."""
    __tablename__ = "update_endpoints"
    __table_args__ = (UniqueConstraint("configuration_id", "update_type", name="uq_update_endpoints_config_type"),)
    id = db.Column(db.Integer, primary_key=True)
    configuration_id = db.Column(db.Integer, db.ForeignKey("configurations.id", ondelete="CASCADE"),
                                 nullable=False, index=True)
    update_type = db.Column(db.String(16), nullable=False)
    enabled = db.Column(db.Boolean, nullable=False, default=False)
    url = db.Column(db.Text)
    disabled_at = db.Column(db.DateTime)  # set when Klaxon disabled it (410 or sustained failure)
    disabled_reason = db.Column(db.Text)
    failing_since = db.Column(db.DateTime)
    last_success_at = db.Column(db.DateTime)
    last_result = db.Column(db.Text)
    configuration = db.relationship("Configuration", back_populates="endpoints")

    @property
    def active(self):
        return bool(self.enabled and self.url and not self.disabled_at)
