"""Configurations (integrations): create, change, serialise, keys and signing secrets."""
from __future__ import annotations

import json
import secrets
import uuid
from datetime import timedelta

from flask import current_app

from alerting import heartbeats
from alerting import validation as v
from alerting.errors import FieldError
from alerting.outbound.ssrf import check_url_for_save
from alerting.update_webhooks.outbox import release_skipped
from alerting.update_webhooks.signing import new_secret
from extensions import db
from models import TEMPLATES, UPDATE_TYPES, Configuration, Group, UpdateEndpoint, User, iso, utcnow

TEMPLATE_INFO = {
    "webhook": ("Webhook", "Any app that can send an HTTP POST: the xMatters trigger form."),
    "alertmanager": ("Prometheus Alertmanager", "Alertmanager's webhook receiver; resolved alerts close themselves."),
    "grafana": ("Grafana Alerting", "A Grafana webhook contact point, firing and resolved."),
    "pagerduty": ("PagerDuty Events", "Apps that speak PagerDuty Events API v2 work unchanged."),
    "custom": ("Custom", "Map any JSON to an alert with a template you write."),
    "heartbeat": ("Heartbeat", "A job that should ping on a schedule; Klaxon alerts when it goes quiet."),
}


# SPEC §1: a configuration made without responseOptions gets these, through the API as in the dashboard.
DEFAULT_RESPONSE_OPTIONS = ({"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"},
                            {"text": "Resolve", "action": "END", "description": "Close the alert"})


def new_api_key() -> str:
    return secrets.token_urlsafe(24)


def integration_url(cfg: Configuration, with_key: bool = True) -> str:
    base = current_app.config["KLAXON"].base_url
    url = f"{base}/api/integration/1/functions/{cfg.uuid}/triggers"
    return f"{url}?apiKey={cfg.api_key}" if with_key else url


def _check_recipients_exist(recipients):
    for i, r in enumerate(recipients or []):
        rid, rtype = r["id"], r["recipientType"]
        if rtype == "PERSON":
            found = db.session.query(User.id).filter_by(username=rid).first()
        elif rtype == "GROUP":
            found = db.session.query(Group.id).filter_by(name=rid).first()
        else:
            found = db.session.query(User.id).filter_by(username=rid.split("|", 1)[0]).first()
        if not found:
            raise FieldError(f"recipients[{i}].id", f"no {rtype.lower()} named {rid!r}")


def apply_updates(cfg: Configuration, updates) -> None:
    """Set the update types (UPDATE_TYPES) from {"status": {"enabled": bool, "url": str|None}, ...}.

    Only a URL that changed passes the save-time SSRF check (alerting.outbound.ssrf).
    """
    updates = v.json_object(updates, "updates")
    allow = current_app.config["KLAXON"].webhook_allow_cidrs
    for key in updates:
        if key not in UPDATE_TYPES:
            raise FieldError(f"updates.{key}", "unknown update type; use " + ", ".join(UPDATE_TYPES))
    for update_type in UPDATE_TYPES:
        if update_type not in updates:
            continue
        item = v.json_object(updates[update_type], f"updates.{update_type}")
        endpoint = cfg.endpoint(update_type)
        if endpoint is None:
            endpoint = UpdateEndpoint(update_type=update_type, enabled=False)
            cfg.endpoints.append(endpoint)
        enabled = v.boolean(item.get("enabled"), f"updates.{update_type}.enabled", default=endpoint.enabled)
        url = v.text(item.get("url"), f"updates.{update_type}.url", max_len=2000, default=None) \
            if "url" in item else endpoint.url
        url = url or None
        if enabled and not url:
            raise FieldError(f"updates.{update_type}.url", "is required when the update type is enabled")
        if url and url != endpoint.url:  # an unchanged URL was checked when saved, and is again on connect
            check_url_for_save(url, allow, f"updates.{update_type}.url")
        fresh_start = url != endpoint.url or (enabled and (not endpoint.enabled or endpoint.disabled_at))
        if fresh_start:
            endpoint.disabled_at = None  # a new URL or a re-enable gives the endpoint a fresh start
            endpoint.disabled_reason = None
            endpoint.failing_since = None
        endpoint.enabled, endpoint.url = enabled, url
        if fresh_start and endpoint.active:
            release_skipped(endpoint)  # messages kept while it was off go out now


def apply(cfg: Configuration, data: dict, creating: bool) -> Configuration:
    """Validate ``data`` (camelCase) onto ``cfg``; raise FieldError naming the first bad field."""
    data = v.json_object(data, "body")
    if creating:
        template = data.get("template", "webhook")
        if template not in TEMPLATES:
            raise FieldError("template", "must be one of " + ", ".join(TEMPLATES))
        cfg.template = template
    elif "template" in data and data["template"] != cfg.template:
        raise FieldError("template", "cannot be changed after the configuration is created")
    if creating or "name" in data:
        cfg.name = v.text(data.get("name"), "name", max_len=200, required=True)
    if "description" in data:
        cfg.description = v.text(data["description"], "description", max_len=2000)
    if creating or "senderName" in data:
        cfg.sender_name = v.text(data.get("senderName"), "senderName", max_len=200) or cfg.name
    if "priority" in data:
        cfg.priority = v.priority(data["priority"], default="MEDIUM")
    if "recipients" in data:
        cfg.recipients = v.recipients(data["recipients"]) or []
        _check_recipients_exist(cfg.recipients)
    if "responseOptions" in data:
        options = v.response_options(data["responseOptions"]) or []
        cfg.response_options = with_ids(options, cfg.response_options or [])
    elif creating:
        cfg.response_options = with_ids([dict(o) for o in DEFAULT_RESPONSE_OPTIONS], [])
    for key, attr in (("includeSubjectAndMessage", "include_subject_and_message"), ("enabled", "enabled")):
        if key in data:
            setattr(cfg, attr, v.boolean(data[key], key))
    for key, attr, top in (("rateLimitPerMinute", "rate_limit_per_minute", 1_000_000),
                           ("dedupWindowMinutes", "dedup_window_minutes", 525_600),
                           ("floodLimitPerMinute", "flood_limit_per_minute", 1_000_000)):
        if key in data:
            setattr(cfg, attr, v.integer(data[key], key, minimum=0, maximum=top))
    if "customMapping" in data:
        cfg.custom_mapping = _custom_mapping(data["customMapping"])
    if "updates" in data:
        apply_updates(cfg, data["updates"])
    heartbeats.apply(cfg, data, creating)
    if "outboundProperties" in data:
        cfg.outbound_properties = outbound_properties(data["outboundProperties"])
    return cfg


def outbound_properties(value) -> list[str] | None:
    """``outboundProperties``: property names (each once, in order), or null for all of them."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 500:
        raise FieldError("outboundProperties", "must be a list of property names (at most 500), or null for all")
    names: list[str] = []
    for i, name in enumerate(value):
        name = v.text(name, f"outboundProperties[{i}]", max_len=200, required=True)
        if name not in names:
            names.append(name)
    return names


def with_ids(options: list[dict], before: list[dict]) -> list[dict]:
    """Give each option a stable ``id`` and ``number`` (SPEC §1).

    An option whose text was there before keeps its id and number; a new one gets a fresh id and
    the next unused number, so a trigger that picks "number 2" keeps meaning the same option.
    """
    old = {o["text"].lower(): o for o in before if o.get("id")}
    used = {o["number"] for o in old.values() if isinstance(o.get("number"), int)}
    out = []
    for option in options:
        kept = old.get(option["text"].lower())
        if kept:
            out.append({**option, "id": kept["id"], "number": kept["number"]})
            continue
        number = max(used, default=0) + 1
        used.add(number)
        out.append({**option, "id": str(uuid.uuid4()), "number": number})
    return out


def _custom_mapping(value):
    if value is None:
        return None
    if isinstance(value, dict):
        value = json.dumps(value, indent=2)
    mapping = v.text(value, "customMapping", max_len=64_000)
    try:
        json.loads(mapping)
    except ValueError as exc:
        raise FieldError("customMapping", f"must be a JSON object of templates ({exc.msg})") from None
    return mapping


def create(data: dict) -> Configuration:
    """Create a configuration from API/dashboard data (not committed)."""
    cfg = Configuration(api_key=new_api_key(), recipients=[], response_options=[], endpoints=[],
                        signing_secrets=[{"secret": new_secret(), "createdAt": iso(utcnow()),
                                          "expiresAt": None}])
    apply(cfg, data, creating=True)
    for update_type in UPDATE_TYPES:
        if cfg.endpoint(update_type) is None:
            cfg.endpoints.append(UpdateEndpoint(update_type=update_type, enabled=False))
    db.session.add(cfg)
    return cfg


def regenerate_key(cfg: Configuration) -> str:
    cfg.api_key = new_api_key()
    return cfg.api_key


def rotate_secret(cfg: Configuration) -> str:
    """New signing secret; the old ones stay valid (signed alongside) for the grace period."""
    grace = timedelta(hours=current_app.config["KLAXON"].secret_grace_hours)
    now = utcnow()
    kept = [dict(s, expiresAt=s.get("expiresAt") or iso(now + grace)) for s in active_secrets_raw(cfg, now)]
    fresh = {"secret": new_secret(), "createdAt": iso(now), "expiresAt": None}
    cfg.signing_secrets = [fresh] + kept
    return fresh["secret"]


def active_secrets_raw(cfg, now=None):
    now_iso = iso(now or utcnow())
    return [s for s in cfg.signing_secrets or [] if not s.get("expiresAt") or s["expiresAt"] > now_iso]


def active_secrets(cfg) -> list[str]:
    """Secrets to sign with now: the newest first, then any still inside their grace period."""
    return [s["secret"] for s in active_secrets_raw(cfg)]


def sample_payload(cfg: Configuration) -> dict:
    """A payload to try the integration with: it has no ``dedupKey``, so each send makes a new alert."""
    options = [{k: o[k] for k in ("text", "action", "description") if k in o}
               for o in cfg.response_options or DEFAULT_RESPONSE_OPTIONS]
    return {"properties": {"Summary": "Disk full on db-1", "Host": "db-1"},
            "subject": "Disk full on db-1", "message": "Free space fell below 5%",
            "priority": cfg.priority or "MEDIUM", "responseOptions": options}


def endpoint_json(endpoint: UpdateEndpoint | None) -> dict:
    if endpoint is None:
        return {"enabled": False, "url": None}
    return {"enabled": endpoint.enabled, "url": endpoint.url,
            "disabledAt": iso(endpoint.disabled_at), "disabledReason": endpoint.disabled_reason,
            "lastResult": endpoint.last_result}


def to_json(cfg: Configuration) -> dict:
    return {
        "uuid": cfg.uuid, "template": cfg.template, "name": cfg.name, "description": cfg.description,
        "senderName": cfg.sender_name, "priority": cfg.priority, "recipients": cfg.recipients,
        "responseOptions": cfg.response_options, "enabled": cfg.enabled,
        "rateLimitPerMinute": cfg.rate_limit_per_minute, "dedupWindowMinutes": cfg.dedup_window_minutes,
        "floodLimitPerMinute": cfg.flood_limit_per_minute, "customMapping": cfg.custom_mapping,
        "includeSubjectAndMessage": cfg.include_subject_and_message,
        "updates": {t: endpoint_json(cfg.endpoint(t)) for t in UPDATE_TYPES},
        "outboundProperties": cfg.outbound_properties,
        "apiKey": cfg.api_key, "integrationUrl": integration_url(cfg),
        "signingSecret": active_secrets(cfg)[0] if active_secrets(cfg) else None,
        "samplePayload": sample_payload(cfg),
        "createdAt": iso(cfg.created_at), "updatedAt": iso(cfg.updated_at),
        **heartbeats.to_json(cfg),
    }
