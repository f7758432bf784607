"""Shared pieces of the source tests: recorded payloads, one custom mapping, and how a refusal reads."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerting.sources import SourceError, parse

PAYLOADS = Path(__file__).parent / "payloads"
# A custom mapping (as a configuration's customMapping) and a payload it maps to a HIGH trigger for db-1/disk.
CUSTOM_MAPPING = {
    "subject": "{{ payload.title }}",
    "message": "{{ payload.detail }}",
    "priority": "{{ 'HIGH' if payload.level == 'crit' else 'LOW' }}",
    "properties": {"Host": "{{ payload.host }}", "Check": "{{ payload.check.name }}"},
    "dedupKey": "{{ payload.id }}",
    "action": "{{ 'resolve' if payload.state == 'ok' else 'trigger' }}",
}
CUSTOM_PAYLOAD = {"title": "Disk full on db-1", "detail": "Free space 3%", "level": "crit", "host": "db-1",
                  "check": {"name": "disk"}, "id": "db-1/disk", "state": "alerting"}


def recorded(name: str):
    """A payload recorded from the real sender (tests/payloads/<name>)."""
    return json.loads((PAYLOADS / name).read_text())


def refusal(template: str, payload, mapping: str | None = None) -> SourceError:
    """The SourceError ``parse`` raises for ``payload``; its message starts with the field it names."""
    with pytest.raises(SourceError) as caught:
        parse(template, payload, mapping)
    assert str(caught.value).startswith(caught.value.field + " ")
    return caught.value
