"""Prometheus metrics. Under `klaxon serve` every process writes to PROMETHEUS_MULTIPROC_DIR."""
from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from extensions import db
from models import MaintenanceHold, Notification, WebhookMessage
from runtime.queue import queue_depths

ALERTS_RECEIVED = Counter("klaxon_alerts_received", "Inbound trigger requests by configuration and outcome",
                          ["configuration", "outcome"])
NOTIFICATIONS = Counter("klaxon_notifications", "Notification attempts by device kind and outcome",
                        ["kind", "outcome"])
WEBHOOK_MESSAGES = Counter("klaxon_webhook_messages", "Update webhook attempts by update type and outcome",
                           ["update_type", "outcome"])
FLOW_RUNS = Counter("klaxon_flow_runs", "Flow runs by outcome", ["outcome"])
TIME_TO_NOTIFY = Histogram("klaxon_time_to_notify_seconds", "From alert accepted to a device delivered",
                           buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))


class QueueCollector:
    """Gauges read at scrape time: jobs waiting in Redis and rows waiting in the database."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        depth = GaugeMetricFamily("klaxon_queue_depth", "Jobs waiting in each RQ queue", labels=["queue"])
        backlog = GaugeMetricFamily("klaxon_backlog", "Rows waiting to be sent", labels=["kind"])
        with self.app.app_context():
            try:
                for name, count in queue_depths().items():
                    depth.add_metric([name], count)
            except Exception:  # Redis down: report no depth rather than fail the scrape
                pass
            backlog.add_metric(["webhook_messages"],
                               db.session.query(WebhookMessage).filter_by(status="pending").count())
            backlog.add_metric(["notifications"],
                               db.session.query(Notification).filter_by(status="Queued").count())
            quiet = watchful_gauges()
            db.session.remove()
        yield depth
        yield backlog
        yield from quiet


def watchful_gauges() -> list[GaugeMetricFamily]:
    """SPEC §10 from the database: heartbeats by state, alerts held quiet by maintenance windows."""
    from alerting.heartbeats import counts_by_state  # at scrape time: alerting imports this module

    beats = GaugeMetricFamily("klaxon_heartbeats", "Heartbeats by state", labels=["state"])
    for state, count in counts_by_state().items():
        beats.add_metric([state], count)
    held = GaugeMetricFamily("klaxon_alerts_suppressed_by_maintenance",
                             "Alerts that arrived in a maintenance window and notified nobody then")
    held.add_metric([], db.session.query(MaintenanceHold).count())
    return [beats, held]


def render_metrics(app) -> tuple[bytes, str]:
    """The /metrics body: every process's counters plus the live gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    body = generate_latest(registry)
    extra = CollectorRegistry()
    extra.register(QueueCollector(app))
    return body + generate_latest(extra), CONTENT_TYPE_LATEST
