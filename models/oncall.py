"""On-call groups (SPEC §9): shifts with their timelines, fallback members and overrides.

Shift ``start_at``/``end_at`` are NAIVE wall-clock times in the group's timezone (the first
occurrence); override ``start_at``/``end_at`` are naive UTC instants like every other timestamp.
A member is a user (``user_id``) or a nested group (``member_group_id``), by ``recipient_type``.
"""
from sqlalchemy import CheckConstraint, UniqueConstraint

from models.base import db, utcnow

ROTATION_DIRECTIONS = ("SECOND_TO_FIRST", "LAST_TO_FIRST", "NONE")
ROTATION_EVERY = ("SHIFT", "ALERT", "INTERVAL")
MEMBER_TYPES = ("PERSON", "GROUP")


class Shift(db.Model):
    __tablename__ = "shifts"
    __table_args__ = (UniqueConstraint("group_id", "name", name="uq_shifts_group_name"),)
    id = db.Column(db.Integer, primary_key=True)
    group_id = db.Column(db.Integer, db.ForeignKey("groups.id", ondelete="CASCADE"), nullable=False, index=True)
    name = db.Column(db.String(100), nullable=False)
    position = db.Column(db.Integer, nullable=False, default=0)
    start_at = db.Column(db.DateTime, nullable=False)  # wall clock, group timezone
    end_at = db.Column(db.DateTime, nullable=False)
    recurrence = db.Column(db.JSON)  # Recurrence.as_dict(); null: the shift does not repeat
    rotation_direction = db.Column(db.String(16), nullable=False, default="NONE")
    rotation_every = db.Column(db.String(8), nullable=False, default="SHIFT")
    rotation_interval_hours = db.Column(db.Integer)
    repeat_after_minutes = db.Column(db.Integer, nullable=False, default=0)
    repeat_times = db.Column(db.Integer, nullable=False, default=0)
    # ALERT rotation: taken with UPDATE … SET alert_sequence = alert_sequence + 1 RETURNING, in the
    # transaction that plans the alert's escalation, so concurrent alerts get distinct positions.
    alert_sequence = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    group = db.relationship("Group", back_populates="shifts")
    timeline = db.relationship("ShiftMember", back_populates="shift", order_by="ShiftMember.position",
                               cascade="all, delete-orphan")


class ShiftMember(db.Model):
    """One position of a shift's timeline: ``delay_minutes`` after the previous position."""
    __tablename__ = "shift_members"
    __table_args__ = (CheckConstraint("(user_id IS NULL) <> (member_group_id IS NULL)", name="one_member"),)
    id = db.Column(db.Integer, primary_key=True)
    shift_id = db.Column(db.Integer, db.ForeignKey("shifts.id", ondelete="CASCADE"), nullable=False, index=True)
    position = db.Column(db.Integer, nullable=False, default=0)
    recipient_type = db.Column(db.String(8), nullable=False, default="PERSON")
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    member_group_id = db.Column(db.Integer, db.ForeignKey("groups.id", ondelete="CASCADE"))
    delay_minutes = db.Column(db.Integer, nullable=False, default=0)
    rotation_excluded = db.Column(db.Boolean, nullable=False, default=False)
    shift = db.relationship("Shift", back_populates="timeline")
    user = db.relationship("User")
    member_group = db.relationship("Group", foreign_keys=[member_group_id])


class GroupFallback(db.Model):
    """A fallback member of a group, in order: notified when no shift is active or one has nobody."""
    __tablename__ = "group_fallbacks"
    __table_args__ = (CheckConstraint("(user_id IS NULL) <> (member_group_id IS NULL)", name="one_member"),)
    id = db.Column(db.Integer, primary_key=True)
    group_id = db.Column(db.Integer, db.ForeignKey("groups.id", ondelete="CASCADE"), nullable=False, index=True)
    position = db.Column(db.Integer, nullable=False, default=0)
    recipient_type = db.Column(db.String(8), nullable=False, default="PERSON")
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"))
    member_group_id = db.Column(db.Integer, db.ForeignKey("groups.id", ondelete="CASCADE"))
    group = db.relationship("Group", foreign_keys=[group_id], back_populates="fallback")
    user = db.relationship("User")
    member_group = db.relationship("Group", foreign_keys=[member_group_id])


class Override(db.Model):
    """``replacement`` takes ``member``'s place in [start_at, end_at) (none: the member is skipped)."""
    __tablename__ = "overrides"
    __table_args__ = (CheckConstraint("end_at > start_at", name="window"),)
    id = db.Column(db.Integer, primary_key=True)
    group_id = db.Column(db.Integer, db.ForeignKey("groups.id", ondelete="CASCADE"), nullable=False, index=True)
    shift_id = db.Column(db.Integer, db.ForeignKey("shifts.id", ondelete="CASCADE"))  # null: every shift
    member_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    replacement_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"))
    start_at = db.Column(db.DateTime, nullable=False)  # UTC
    end_at = db.Column(db.DateTime, nullable=False, index=True)
    created_by = db.Column(db.String(64))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    group = db.relationship("Group", back_populates="overrides")
    shift = db.relationship("Shift")
    member = db.relationship("User", foreign_keys=[member_id])
    replacement = db.relationship("User", foreign_keys=[replacement_id])


class EscalationPlan(db.Model):
    """The timeline an on-call group's AlertTarget runs, computed once when the alert is dispatched.

    ``steps``: [{"at": minutes after ``started_at``, "shift", "level", "round", "recipients":
    [{"name", "type"}]}] in order of ``at``; ``AlertTarget.next_position`` indexes it and
    ``AlertTarget.next_at`` records when the next one is due (the sweeper's ledger, as for any step).
    """
    __tablename__ = "escalation_plans"
    target_id = db.Column(db.Integer, db.ForeignKey("alert_targets.id", ondelete="CASCADE"), primary_key=True)
    started_at = db.Column(db.DateTime, nullable=False)
    steps = db.Column(db.JSON, nullable=False, default=list)
