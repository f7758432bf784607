"""Grafana Alerting webhook contact point (unified alerting, payload version "1").

Grafana sends the Alertmanager shape (``alerts[]`` with status, labels, annotations, fingerprint)
plus its own per-alert fields, so the rules are the Alertmanager parser's (see its docstring):
one change per alert keyed ``grafana:<fingerprint>``, labels then annotations as properties.
After them come, when not empty: ``startsAt``, ``generatorURL``, ``silenceURL``,
``dashboardURL``, ``panelURL``, ``imageURL``, ``values`` (an object of query results) and
``valueString``. Group-level fields (``title``, ``state``, ``message``, ``commonLabels`` …) are not used.
"""
from __future__ import annotations

from alerting.sources.alertmanager import parse_alerts
from alerting.sources.base import AlertChange

EXTRA_FIELDS = ("startsAt", "generatorURL", "silenceURL", "dashboardURL", "panelURL", "imageURL",
                "values", "valueString")


def parse(payload) -> list[AlertChange]:
    """Parse a Grafana webhook body into one change per alert."""
    return parse_alerts(payload, "grafana:", EXTRA_FIELDS)
