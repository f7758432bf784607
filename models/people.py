"""Users, their devices, groups and API tokens."""
import hashlib

from flask_login import UserMixin
from sqlalchemy import UniqueConstraint
from werkzeug.security import check_password_hash, generate_password_hash

from models.base import db, utcnow

ROLES = ("admin", "responder")
DEVICE_KINDS = ("email", "webhook", "apprise")
GROUP_MODES = ("all-at-once", "escalate-in-order")


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(64), unique=True, nullable=False)
    name = db.Column(db.String(200), nullable=False, default="")
    role = db.Column(db.String(16), nullable=False, default="responder")
    password_hash = db.Column(db.String(256))
    active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # Part of every session's id: changed by a logout or a new password, it ends every session at once.
    session_version = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    # Part of the signed iCalendar feed URL of the user's shifts: changing it revokes the old URL.
    calendar_nonce = db.Column(db.String(32))
    devices = db.relationship("Device", back_populates="user", order_by="Device.position",
                              cascade="all, delete-orphan")

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)
        self.end_sessions()

    def end_sessions(self):
        """Sign this user out everywhere: session cookies made before now stop working."""
        self.session_version = (self.session_version or 0) + 1

    def get_id(self):
        """The id Flask-Login keeps in the session: ``<id>:<session_version>`` (checked by auth.load_user)."""
        return f"{self.id}:{self.session_version or 0}"

    def check_password(self, password):
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def is_admin(self):
        return self.role == "admin"

    @property
    def is_active(self):
        return self.active


class Device(db.Model):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_devices_user_name"),)
    id = db.Column(db.Integer, primary_key=True)  # the public deviceId
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    name = db.Column(db.String(100), nullable=False)
    kind = db.Column(db.String(16), nullable=False)
    target = db.Column(db.Text, nullable=False)
    enabled = db.Column(db.Boolean, nullable=False, default=True)
    position = db.Column(db.Integer, nullable=False, default=0)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    user = db.relationship("User", back_populates="devices")


class Group(db.Model):
    __tablename__ = "groups"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(100), unique=True, nullable=False)
    description = db.Column(db.Text, nullable=False, default="")
    mode = db.Column(db.String(24), nullable=False, default="all-at-once")
    escalation_delay_minutes = db.Column(db.Float, nullable=False, default=5)
    timezone = db.Column(db.String(64), nullable=False, default="UTC", server_default="UTC")  # IANA, for shifts
    calendar_nonce = db.Column(db.String(32))  # part of the signed feed URL: changing it revokes the old URL
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    members = db.relationship("GroupMember", back_populates="group", order_by="GroupMember.position",
                              cascade="all, delete-orphan")
    shifts = db.relationship("Shift", back_populates="group", order_by="Shift.position",
                             cascade="all, delete-orphan")
    fallback = db.relationship("GroupFallback", back_populates="group", order_by="GroupFallback.position",
                               foreign_keys="GroupFallback.group_id", cascade="all, delete-orphan")
    overrides = db.relationship("Override", back_populates="group", order_by="Override.start_at",
                                cascade="all, delete-orphan")


class GroupMember(db.Model):
    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("group_id", "user_id", name="uq_group_members_group_user"),)
    id = db.Column(db.Integer, primary_key=True)
    group_id = db.Column(db.Integer, db.ForeignKey("groups.id", ondelete="CASCADE"), nullable=False, index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    position = db.Column(db.Integer, nullable=False, default=0)
    group = db.relationship("Group", back_populates="members")
    user = db.relationship("User")


class ApiToken(db.Model):
    __tablename__ = "api_tokens"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(100), nullable=False, default="")
    token_hash = db.Column(db.String(64), unique=True, nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_used_at = db.Column(db.DateTime)
    user = db.relationship("User")

    @staticmethod
    def hash(token):
        return hashlib.sha256(token.encode()).hexdigest()
