"""Overrides and absences of an on-call group (SPEC §9): a replacement (or nobody) for a member in a window."""
from __future__ import annotations

from datetime import UTC, datetime

from alerting import validation as v
from alerting.errors import FieldError
from alerting.ids import owned_row
from alerting.notifications.rota import aware, iso_instant
from alerting.notifications.schedule import parse_instant
from extensions import db
from models import Group, Override, User, iso

FIELDS = {"start", "end", "member", "replacement", "shift"}


def _instant(data: dict, field: str):
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        raise FieldError(field, "must be an ISO 8601 instant like 2026-12-07T12:00:00Z")
    return parse_instant(value.strip(), field, datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)


def _user(value, field: str, required: bool) -> User | None:
    name = v.text(value, field, max_len=64, required=required, default=None)
    if name is None:
        return None
    user = db.session.query(User).filter_by(username=name).first()
    if user is None:
        raise FieldError(field, f"no user named {name!r}")
    return user


def create_override(group: Group, data: dict, actor: str | None = None) -> Override:
    """A new override of ``group`` from {"start", "end", "member", "replacement", "shift"}; the caller commits."""
    for key in data:
        if key not in FIELDS:
            raise FieldError(key, "is not a known field (use " + ", ".join(sorted(FIELDS)) + ")")
    start, end = _instant(data, "start"), _instant(data, "end")
    if end <= start:
        raise FieldError("end", "must be after start")
    member = _user(data.get("member"), "member", required=True)
    replacement = _user(data.get("replacement"), "replacement", required=False)
    if replacement is not None and replacement.id == member.id:  # type: ignore[union-attr]
        raise FieldError("replacement", "must be someone other than the member")
    shift = None
    if data.get("shift") is not None:
        name = v.text(data["shift"], "shift", max_len=100)
        shift = next((s for s in group.shifts if s.name == name), None)
        if shift is None:
            raise FieldError("shift", f"group {group.name!r} has no shift named {name!r}")
    override = Override(group=group, start_at=start, end_at=end, member=member, replacement=replacement,
                        shift=shift, created_by=actor)
    db.session.add(override)
    db.session.flush()
    return override


def get_override(group: Group, override_id: int) -> Override:
    """The group's override with this id, or NotFound."""
    return owned_row(Override, override_id, f"Group {group.name!r} has no override {override_id}.",
                     group_id=group.id)


def delete_override(override: Override) -> None:
    """Remove one override."""
    db.session.delete(override)
    db.session.flush()


def override_to_json(override: Override) -> dict:
    """An override as the REST API shows it."""
    return {"id": override.id, "start": iso_instant(aware(override.start_at)),
            "end": iso_instant(aware(override.end_at)), "member": override.member.username,
            "replacement": override.replacement.username if override.replacement else None,
            "shift": override.shift.name if override.shift else None, "createdBy": override.created_by,
            "createdAt": iso(override.created_at)}
