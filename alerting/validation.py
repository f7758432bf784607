"""Validators shared by the REST API, the dashboard and the trigger parser. Each raises FieldError."""
from __future__ import annotations

from models import PRIORITIES, RESPONSE_ACTIONS

from .errors import FieldError

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


def recipients(value, field="recipients"):
    """xMatters recipients: [{"id": "bsmith", "recipientType": "PERSON"|"GROUP"|"DEVICE"}]."""
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
        rid = text(item.get("id"), f"{field}[{i}].id", max_len=200, required=True)
        rtype = item.get("recipientType", "PERSON")
        if not isinstance(rtype, str) or rtype.upper() not in RECIPIENT_TYPES:
            raise FieldError(f"{field}[{i}].recipientType", "must be one of PERSON, GROUP, DEVICE")
        if rtype.upper() == "DEVICE" and "|" not in rid:
            raise FieldError(f"{field}[{i}].id", "a DEVICE is named 'username|Device Name'")
        out.append({"id": rid, "recipientType": rtype.upper()})
    return out


def response_options(value, field="responseOptions"):
    """[{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER", "description": "..."}]."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise FieldError(field, "must be a list of {text, action}")
    out, seen = [], set()
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise FieldError(f"{field}[{i}]", "must be an object with text and action")
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


def json_object(value, field):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FieldError(field, "must be a JSON object")
    return value
