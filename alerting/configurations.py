"""Configurations (integrations): create, change, serialise, keys and signing secrets."""
from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app

from extensions import db
from models import TEMPLATES, UPDATE_TYPES, Configuration, Group, UpdateEndpoint, User, iso, utcnow

from . import validation as v
from .errors import FieldError

TEMPLATE_INFO = {
    "webhook": ("Webhook", "Any app that can send an HTTP POST: the xMatters trigger form."),
    "alertmanager": ("Prometheus Alertmanager", "Alertmanager's webhook receiver; resolved alerts close themselves."),
    "grafana": ("Grafana Alerting", "A Grafana webhook contact point, firing and resolved."),
    "pagerduty": ("PagerDuty Events", "Apps that speak PagerDuty Events API v2 work unchanged."),
    "custom": ("Custom", "Map any JSON to an alert with a template you write."),
}


def new_api_key() -> str:
    return secrets.token_urlsafe(24)


def _new_signing_secret() -> str:
    from .signing import new_secret

    return new_secret()


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
    """Set the three update types from {"status": {"enabled": bool, "url": str|None}, ...}."""
    from .ssrf import UnsafeURL, check_url

    updates = v.json_object(updates, "updates")
    allow = current_app.config["KLAXON"].webhook_allow_cidrs
    for key in updates:
        if key not in UPDATE_TYPES:
            raise FieldError(f"updates.{key}", "unknown update type; use status, delivery or response")
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
        if url:
            try:
                check_url(url, allow)
            except UnsafeURL as exc:
                raise FieldError(f"updates.{update_type}.url", str(exc).removeprefix("url: ")) from None
        fresh_start = url != endpoint.url or (enabled and (not endpoint.enabled or endpoint.disabled_at))
        if fresh_start:
            endpoint.disabled_at = None  # a new URL or a re-enable gives the endpoint a fresh start
            endpoint.disabled_reason = None
            endpoint.failing_since = None
        endpoint.enabled, endpoint.url = enabled, url
        if fresh_start and endpoint.active:
            from .outbox import release_skipped

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
        cfg.response_options = v.response_options(data["responseOptions"]) or []
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
    return cfg


def _custom_mapping(value):
    import json

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
                        signing_secrets=[{"secret": _new_signing_secret(), "createdAt": iso(utcnow()),
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
    fresh = {"secret": _new_signing_secret(), "createdAt": iso(now), "expiresAt": None}
    cfg.signing_secrets = [fresh] + kept
    return fresh["secret"]


def active_secrets_raw(cfg, now=None):
    now_iso = iso(now or utcnow())
    return [s for s in cfg.signing_secrets or [] if not s.get("expiresAt") or s["expiresAt"] > now_iso]


def active_secrets(cfg) -> list[str]:
    """Secrets to sign with now: the newest first, then any still inside their grace period."""
    return [s["secret"] for s in active_secrets_raw(cfg)]


def sample_payload(cfg: Configuration) -> dict:
    options = cfg.response_options or [{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"},
                                       {"text": "Resolve", "action": "END"}]
    return {"properties": {"Summary": "Disk full on db-1", "Host": "db-1"},
            "subject": "Disk full on db-1", "message": "Free space fell below 5%",
            "priority": cfg.priority or "MEDIUM", "responseOptions": options, "dedupKey": "db-1/disk"}


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
        "apiKey": cfg.api_key, "integrationUrl": integration_url(cfg),
        "signingSecret": active_secrets(cfg)[0] if active_secrets(cfg) else None,
        "samplePayload": sample_payload(cfg),
        "createdAt": iso(cfg.created_at), "updatedAt": iso(cfg.updated_at),
    }
