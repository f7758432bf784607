"""Recipients a trigger names without a type (SPEC §2): xMatters clients send ``{"targetName": "ops"}``
or a bare "ops" for a person or a group alike, so Klaxon looks the name up."""
from __future__ import annotations

from extensions import db
from models import Group, User


def by_name(recipients: list[dict]) -> list[dict]:
    """``recipients`` with each untyped entry (recipientType "") typed: PERSON when a user has that
    username, else GROUP when a group has that name, else PERSON (to be reported unresolved)."""
    names = {r["id"] for r in recipients if not r["recipientType"]}
    if not names:
        return recipients
    users = {u for (u,) in db.session.query(User.username).filter(User.username.in_(names))}
    groups = {g for (g,) in db.session.query(Group.name).filter(Group.name.in_(names - users))}
    return [r if r["recipientType"] else {"id": r["id"], "recipientType": "GROUP" if r["id"] in groups else "PERSON"}
            for r in recipients]
