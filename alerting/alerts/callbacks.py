"""A trigger's callbacks (SPEC §2): update URLs subscribed for one alert alone.

Each becomes an UpdateEndpoint with ``alert_id`` set, so its messages are written, signed, posted,
retried, logged and SSRF-checked at connect time exactly as a configuration's own update
webhooks are (alerting/update_webhooks/). The URL is checked at intake with the one save-time
check, so a refused address is a 400 naming ``callbacks[i].url`` before anything is written.
"""
from __future__ import annotations

from flask import current_app

from alerting.outbound.ssrf import check_url_for_save
from extensions import db
from models import Alert, UpdateEndpoint

# on an Alert: its callback endpoints, known without a query (an alert gets callbacks only at its
# creation, in subscribe, so once known they stay true): set by subscribe and remember
KNOWN_CALLBACKS = "_klaxon_known_callbacks"


def check_urls(changes: list, field: str = "callbacks") -> None:
    """Raise FieldError naming ``callbacks[i].url`` for a URL Klaxon will not post to."""
    allow = current_app.config["KLAXON"].webhook_allow_cidrs
    for change in changes:
        for i, callback in enumerate(change.callbacks):
            check_url_for_save(callback["url"], allow, f"{field}[{i}].url")


def subscribe(alert: Alert, callbacks: list[dict]) -> list[UpdateEndpoint]:
    """Add the alert's callback endpoints (enabled); the caller commits with the alert."""
    endpoints = [UpdateEndpoint(configuration_id=alert.configuration_id, alert_id=alert.id,
                                update_type=c["updateType"], enabled=True, url=c["url"],
                                auth_user_name=c["authUserName"], auth_password=c["authPassword"])
                 for c in callbacks]
    db.session.add_all(endpoints)
    setattr(alert, KNOWN_CALLBACKS, endpoints)
    return endpoints


def remember(alert: Alert) -> None:
    """Read the alert's callbacks once, so each later update of it needs no query (known_callbacks)."""
    setattr(alert, KNOWN_CALLBACKS, of_alert(alert))


def known_callbacks(alert: Alert, update_type: str) -> list[UpdateEndpoint] | None:
    """The callbacks of ``update_type`` of an alert created or remembered in this session (in order),
    or None if not known without a query."""
    endpoints = getattr(alert, KNOWN_CALLBACKS, None)
    if endpoints is None:
        return None
    return [e for e in endpoints if e.update_type == update_type]


def of_alert(alert: Alert, update_type: str | None = None) -> list[UpdateEndpoint]:
    """The alert's callback endpoints (of one update type, when given), oldest first."""
    query = db.session.query(UpdateEndpoint).filter(UpdateEndpoint.alert_id == alert.id)
    if update_type is not None:
        query = query.filter(UpdateEndpoint.update_type == update_type)
    return query.order_by(UpdateEndpoint.id).all()


def to_json(endpoint: UpdateEndpoint) -> dict:
    """A callback as the API shows it: never its password."""
    types = {"delivery": "deliveryStatus", "comment": "annotation"}
    return {"url": endpoint.url, "type": types.get(endpoint.update_type, endpoint.update_type),
            "authType": "BASIC" if endpoint.auth_user_name is not None else None,
            "authUserName": endpoint.auth_user_name, "enabled": endpoint.active,
            "lastResult": endpoint.last_result}
