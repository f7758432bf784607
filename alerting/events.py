"""Domain events, fanned out inside the transaction that caused them.

``emit`` calls each listener synchronously, so the rows a listener writes (an update webhook
message, a flow run) commit or roll back together with the change itself: the outbox pattern.
Kinds: ``alert.created``, ``alert.status``, ``notification.delivery``, ``alert.response``.
"""
from __future__ import annotations

import importlib

# (module, function) listeners, each ``fn(alert, kind, data)``.
LISTENERS: list[tuple[str, str]] = [("alerting.outbox", "on_event"), ("alerting.flows.triggers", "on_event")]
KINDS = ("alert.created", "alert.status", "notification.delivery", "alert.response")


def emit(alert, kind: str, **data) -> None:
    """Tell every listener that ``kind`` happened to ``alert`` (inside the current transaction)."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    for module_name, func_name in LISTENERS:
        getattr(importlib.import_module(module_name), func_name)(alert, kind, data)
