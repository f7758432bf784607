"""PagerDuty's own URL, POST /v2/enqueue: senders written for PagerDuty change only the host.

The body's ``routing_key`` picks the pagerduty-template configuration whose API key it is; from
there the request takes the integration URL's path (blueprints.inbound.receive) unchanged.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, current_app

from blueprints.inbound import Reject, read_json, receive, routing_key
from extensions import db
from models import Configuration

bp = Blueprint("pagerduty", __name__)
UNKNOWN_KEY = "routing_key is not the API key of a PagerDuty configuration in Klaxon"


@bp.post("/v2/enqueue")
def enqueue():
    return receive(lambda fresh: (*locate_by_routing_key(), False), template="pagerduty")


def locate_by_routing_key() -> tuple[Configuration, object]:
    """The configuration the body's routing_key opens, and the body; a 400 when there is none."""
    payload = read_json(current_app.config["KLAXON"].max_payload_bytes)
    key = routing_key(payload)
    if not key:
        raise Reject(400, "routing_key is required: the API key of a PagerDuty configuration in Klaxon",
                     field="routing_key")
    cfg = configuration_for_key(key)
    if cfg is None:
        raise Reject(400, UNKNOWN_KEY, field="routing_key")
    return cfg, payload


def configuration_for_key(key: str) -> Configuration | None:
    """The pagerduty configuration with API key ``key``, comparing every one in constant time."""
    found = None
    presented = key.encode()
    rows = db.session.query(Configuration.id, Configuration.api_key).filter_by(template="pagerduty")
    for config_id, api_key in rows:
        # no early exit: the time taken must not tell how far down the list a key is
        if hmac.compare_digest(presented, api_key.encode()):
            found = config_id
    return db.session.get(Configuration, found) if found is not None else None
