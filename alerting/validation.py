"""Validators shared by the REST API, the dashboard and the trigger parser. Each raises FieldError."""
from __future__ import annotations

import uuid

from alerting.errors import FieldError
from models import PRIORITIES, RESPONSE_ACTIONS

RECIPIENT_TYPES = ("PERSON", "GROUP", "DEVICE")


def text(value, field, max_len=1000, required=False, default=""):
    """A string of at most ``max_len`` characters (stripped)."""
    if value is None:
        if required:
            raise FieldError(field, "is required")
        return default
    if not isinstance(value, str):
        raise FieldError(field, "must be a string")
    value = value.strip()
    if required and not value:
        raise FieldError(field, "must not be empty")
    if len(value) > max_len:
        raise FieldError(field, f"must be at most {max_len} characters")
    return value


def integer(value, field, minimum=None, maximum=None, default=None):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(field, "must be a whole number")
    if minimum is not None and value < minimum:
        raise FieldError(field, f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise FieldError(field, f"must be at most {maximum}")
    return value


def boolean(value, field, default=None):
    if value is None:
        return default
    if not isinstance(value, bool):
        raise FieldError(field, "must be true or false")
    return value


def priority(value, field="priority", default=None):
    if value is None:
        return default
    if not isinstance(value, str) or value.upper() not in PRIORITIES:
        raise FieldError(field, "must be one of HIGH, MEDIUM, LOW")
    return value.upper()


def recipients(value, field="recipients", tolerant=False):
    """xMatters recipients: [{"id": "bsmith", "recipientType": "PERSON"|"GROUP"|"DEVICE"}].

    ``tolerant`` (a trigger, SPEC §2): ``targetName`` may stand for ``id``; a recipientType Klaxon
    does not know or a DEVICE not named 'username|Device' is kept, to be reported unresolved; and
    an entry without a type has recipientType "" (a user or a group, found by name at creation).
    """
    if value is None:
        return None
    if not isinstance(value, list):
        raise FieldError(field, "must be a list of {id, recipientType}")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            item = {"id": item}
        if not isinstance(item, dict):
            raise FieldError(f"{field}[{i}]", "must be an object with id and recipientType")
        rid = text(_recipient_name(item, tolerant), f"{field}[{i}].id", max_len=200, required=True)
        rtype = item.get("recipientType", "" if tolerant else "PERSON")
        if tolerant and not rtype:
            out.append({"id": rid, "recipientType": ""})
            continue
        known = isinstance(rtype, str) and rtype.upper() in RECIPIENT_TYPES
        if not known and not (tolerant and isinstance(rtype, str)):
            raise FieldError(f"{field}[{i}].recipientType", "must be one of PERSON, GROUP, DEVICE")
        rtype = text(rtype, f"{field}[{i}].recipientType", max_len=64).upper()
        if rtype == "DEVICE" and "|" not in rid and not tolerant:
            raise FieldError(f"{field}[{i}].id", "a DEVICE is named 'username|Device Name'")
        out.append({"id": rid, "recipientType": rtype})
    return out


def _recipient_name(item: dict, tolerant: bool):
    """``id``; for older xMatters clients ``targetName`` when there is no id or the id is a UUID."""
    rid, name = item.get("id"), item.get("targetName")
    if tolerant and isinstance(name, str) and name.strip() and (rid is None or _is_uuid(rid)):
        return name
    return rid


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def response_options(value, field="responseOptions", picks=False):
    """[{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER", "description": "..."}].

    ``picks`` (a trigger, SPEC §2): an entry without ``text`` may pick one of the configuration's
    options by ``id`` or ``number``; it comes out as ``{"pick": {"id": ...}}`` for the caller to look up.
    """
    if value is None:
        return None
    if not isinstance(value, list):
        raise FieldError(field, "must be a list of {text, action}")
    out, seen = [], set()
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise FieldError(f"{field}[{i}]", "must be an object with text and action")
        if picks and item.get("text") is None and (item.get("id") is not None or item.get("number") is not None):
            out.append({"pick": _option_pick(item, f"{field}[{i}]")})
            continue
        label = text(item.get("text"), f"{field}[{i}].text", max_len=100, required=True)
        if label.lower() in seen:
            raise FieldError(f"{field}[{i}].text", f"{label!r} is listed twice")
        seen.add(label.lower())
        action = item.get("action", "RECORD_RESPONSE")
        if not isinstance(action, str) or action.upper() not in RESPONSE_ACTIONS:
            raise FieldError(f"{field}[{i}].action", "must be one of " + ", ".join(RESPONSE_ACTIONS))
        option = {"text": label, "action": action.upper()}
        description = text(item.get("description"), f"{field}[{i}].description", max_len=500)
        if description:
            option["description"] = description
        out.append(option)
    return out


def _option_pick(item: dict, field: str) -> dict:
    """{"id": "<text or id>"} or {"number": n}: which of the configuration's options an entry picks."""
    if item.get("id") is not None:
        if isinstance(item["id"], bool) or not isinstance(item["id"], str | int):
            raise FieldError(f"{field}.id", "must be a string or a whole number")
        return {"id": str(item["id"]).strip()}
    return {"number": integer(item["number"], f"{field}.number", minimum=1)}


def json_object(value, field):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FieldError(field, "must be a JSON object")
    return value
