"""Prometheus Alertmanager webhook (``webhook_config``, payload version "4"): one change per alert.

Each entry of ``alerts`` becomes one change keyed ``alertmanager:<fingerprint>`` (a hash of the
sorted labels when an old Alertmanager sends no fingerprint), so the ``resolved`` notification
finds the alert its ``firing`` one opened. ``firing`` triggers, ``resolved`` resolves.

Properties, in this order (people read them in alert messages, so names stay as the source
wrote them, without prefixes):
1. every label, as-is (``alertname``, ``severity``, ``instance`` …);
2. every annotation, as-is (``summary``, ``description``, ``runbook_url`` …); an annotation
   whose name a label already uses is kept as ``annotations.<name>``;
3. ``startsAt`` and ``generatorURL`` when not empty (the Grafana parser adds its URLs here).
Subject: ``annotations.summary``, else ``labels.alertname``. Message: ``annotations.description``.
Priority from the ``severity`` label (see SEVERITY_PRIORITY); anything else leaves the default.
Group-level fields (``groupLabels``, ``commonLabels`` …) repeat what the alerts carry and are not used;
``version`` is not checked, so a later version with the same ``alerts`` shape still parses.
"""
from __future__ import annotations

import hashlib
import json

from alerting.sources.base import AlertChange, SourceError, expect_object, optional_text, put_property

SEVERITY_PRIORITY = {"critical": "HIGH", "page": "HIGH", "error": "HIGH", "high": "HIGH",
                     "warning": "MEDIUM", "warn": "MEDIUM", "medium": "MEDIUM",
                     "info": "LOW", "low": "LOW", "none": "LOW"}
STATUS_ACTIONS = {"firing": "trigger", "resolved": "resolve"}
EXTRA_FIELDS = ("startsAt", "generatorURL")


def parse(payload) -> list[AlertChange]:
    """Parse an Alertmanager webhook body into one change per alert."""
    return parse_alerts(payload, "alertmanager:", EXTRA_FIELDS)


def parse_alerts(payload, key_prefix: str, extra_fields: tuple[str, ...]) -> list[AlertChange]:
    """The Alertmanager-shaped ``alerts`` list (shared with Grafana, which sends the same shape)."""
    body = expect_object(payload, "body")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise SourceError("alerts", "must be a list of alert objects")
    return [_change(alert, f"alerts[{i}]", key_prefix, extra_fields) for i, alert in enumerate(alerts)]


def _change(alert, where: str, key_prefix: str, extra_fields: tuple[str, ...]) -> AlertChange:
    alert = expect_object(alert, where)
    labels = expect_object(alert.get("labels"), f"{where}.labels")
    annotations = expect_object(alert.get("annotations"), f"{where}.annotations", default={})
    status = alert.get("status")
    if not isinstance(status, str) or status not in STATUS_ACTIONS:
        raise SourceError(f"{where}.status", 'must be "firing" or "resolved"')
    fingerprint = optional_text(alert.get("fingerprint"), f"{where}.fingerprint") or labels_hash(labels)
    properties = dict(labels)
    for name, value in annotations.items():
        put_property(properties, name, value, "annotations")
    for name in extra_fields:
        if alert.get(name) not in (None, "", {}, []):
            put_property(properties, name, alert[name], "alert")
    return AlertChange(
        action=STATUS_ACTIONS[status],
        dedup_key=key_prefix + fingerprint,
        subject=_text(annotations.get("summary")) or _text(labels.get("alertname")),
        message=_text(annotations.get("description")),
        priority=severity_priority(labels.get("severity")),
        properties=properties,
        raw_status=status,
    )


def labels_hash(labels: dict) -> str:
    """A stable 16-hex-digit key for a label set, used when the alert has no fingerprint."""
    canonical = json.dumps(labels, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def severity_priority(severity) -> str | None:
    """HIGH/MEDIUM/LOW for a ``severity`` label such as ``critical`` or ``warning``; None if unknown."""
    if not isinstance(severity, str):
        return None
    return SEVERITY_PRIORITY.get(severity.strip().lower())


def _text(value) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
