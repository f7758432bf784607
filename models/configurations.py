"""Integrations (configurations of a workflow template) and their update endpoints."""
from sqlalchemy import Index, text

from models.base import db, new_uuid, utcnow

TEMPLATES = ("webhook", "alertmanager", "grafana", "pagerduty", "custom", "heartbeat")
PRIORITIES = ("HIGH", "MEDIUM", "LOW")
UPDATE_TYPES = ("status", "delivery", "response", "comment", "escalation")


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
    # property names sent in eventProperties of updates (xMatters' "Include in Outbound Integrations"); None: all
    outbound_properties = db.Column(db.JSON)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    # the configuration's own endpoints; an alert's callbacks (UpdateEndpoint.alert_id set) are not among them
    endpoints = db.relationship("UpdateEndpoint", back_populates="configuration", cascade="all, delete-orphan",
                                primaryjoin="and_(Configuration.id == UpdateEndpoint.configuration_id, "
                                            "UpdateEndpoint.alert_id.is_(None))")

    def endpoint(self, update_type):
        return next((e for e in self.endpoints if e.update_type == update_type), None)


class UpdateEndpoint(db.Model):
    """One update type (status, delivery, response) of a configuration: checkbox, URL and health."""
    __tablename__ = "update_endpoints"
    # one endpoint per update type of a configuration; an alert's callbacks (SPEC §2) may be several
    __table_args__ = (Index("uq_update_endpoints_config_type", "configuration_id", "update_type", unique=True,
                            sqlite_where=text("alert_id IS NULL"), postgresql_where=text("alert_id IS NULL")),)
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
    # set for a trigger's ``callbacks`` entry: this endpoint serves that alert alone
    alert_id = db.Column(db.Integer, db.ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    auth_user_name = db.Column(db.String(200))  # HTTP Basic of a callback (authType BASIC)
    auth_password = db.Column(db.Text)  # sent in the Authorization header; never logged nor shown
    configuration = db.relationship("Configuration", back_populates="endpoints")

    @property
    def active(self):
        return bool(self.enabled and self.url and not self.disabled_at)


class ConfigVersion(db.Model):
    """One row (id 1) whose ``version`` the database itself raises, by triggers (migration 0008), in the
    same transaction as any write of what ingest caches per process: configurations, their own update
    endpoints (not alerts' callbacks; not their delivery health, except ``disabled_at``), flows and
    maintenance windows. A process's cache is valid while it reads the version it cached at
    (alerting/alerts/config_cache.py)."""
    __tablename__ = "config_versions"
    id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    version = db.Column(db.BigInteger, nullable=False, default=0)
