"""A trigger's ``callbacks`` (SPEC §2, the older xMatters REST form): which update URLs this one alert posts to.

``[{"url", "type": "status"|"deliveryStatus"|"response", "authType": "BASIC", "authUserName",
"authPassword"}]``. Parsing is pure; the URL's SSRF check (it resolves the host) is made at
intake by alerting/alerts/callbacks.py, before anything is written.
"""
from __future__ import annotations

from alerting.sources.base import SourceError, expect_object, optional_text, required_text
from models import UPDATE_TYPES

MAX_CALLBACKS = 20  # each is checked against SSRF (a DNS lookup) while the sender waits
# xMatters' callback types and the update types they are in Klaxon (annotation once comments have one)
CALLBACK_TYPES = {"status": "status", "deliveryStatus": "delivery", "response": "response",
                  "annotation": "comment"}


def parse(value, field: str = "callbacks") -> list[dict]:
    """[{"url", "updateType", "authUserName", "authPassword"}] (auth None without BASIC); [] when absent."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise SourceError(field, "must be a list of {url, type}")
    if len(value) > MAX_CALLBACKS:
        raise SourceError(field, f"has {len(value)} entries; at most {MAX_CALLBACKS} are allowed")
    return [_entry(expect_object(item, f"{field}[{i}]"), f"{field}[{i}]") for i, item in enumerate(value)]


def _entry(item: dict, field: str) -> dict:
    url = required_text(item.get("url"), f"{field}.url", max_len=2000)
    known = {name: kind for name, kind in CALLBACK_TYPES.items() if kind in UPDATE_TYPES}
    kind = item.get("type")
    if not isinstance(kind, str) or kind.strip() not in known:
        raise SourceError(f"{field}.type", "must be one of " + ", ".join(known))
    entry = {"url": url, "updateType": known[kind.strip()], "authUserName": None, "authPassword": None}
    auth = optional_text(item.get("authType"), f"{field}.authType")
    if auth is None:
        return entry
    if auth.upper() != "BASIC":
        raise SourceError(f"{field}.authType", "must be BASIC (or left out)")
    entry["authUserName"] = required_text(item.get("authUserName"), f"{field}.authUserName", max_len=200)
    password = item.get("authPassword")
    if not isinstance(password, str) or not password:
        raise SourceError(f"{field}.authPassword", "is required with authType BASIC")
    entry["authPassword"] = password
    return entry
