"""A test update webhook (the Updates tab's "Send test update"): a signed sample posted at once.

It is signed exactly as real updates are (every active secret, a fresh timestamp, one webhook-id)
and sent through the one outbound client, but no message row, attempt or retry is kept: the
result is shown where the button was pressed.
"""
from __future__ import annotations

import uuid

from flask import current_app

from alerting.configurations import active_secrets
from alerting.outbound import http
from alerting.outbound.ssrf import check_url_for_save
from alerting.update_webhooks.payloads import encode, format_date
from alerting.update_webhooks.post import Send, basic_auth, post
from models import Configuration, utcnow


def sample_update(cfg: Configuration, update_type: str) -> dict:
    """The body of a test update: says plainly it is a test, with no alert number behind it."""
    return {"test": True, "updateType": update_type, "configuration": cfg.name, "date": format_date(utcnow()),
            "message": f"A test {update_type} update from Klaxon: no alert is behind it."}


def send_test_update(cfg: Configuration, update_type: str, url: str) -> http.Outcome:
    """POST a signed sample of ``update_type`` to ``url``; FieldError if the URL may not be used."""
    check_url_for_save(url, current_app.config["KLAXON"].webhook_allow_cidrs, f"updates.{update_type}.url")
    endpoint = cfg.endpoint(update_type)
    send = Send(message_id=0, msg_id=f"msg_test_{uuid.uuid4().hex}", url=url,
                body=encode(sample_update(cfg, update_type)), update_type=update_type,
                secrets=active_secrets(cfg), basic_auth=basic_auth(endpoint) if endpoint else None)
    return post(send)


def outcome_text(outcome: http.Outcome) -> str:
    """What the far end said, in a few words: "HTTP 200 in 12 ms" or the error class and reason."""
    if outcome.status_code is not None:
        return f"HTTP {outcome.status_code} in {outcome.duration_ms} ms"
    return f"{outcome.error_class or 'Error'}: {(outcome.error or '')[:160]}"
