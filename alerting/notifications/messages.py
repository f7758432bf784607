"""Notification messages: what one recipient's device is told about one alert.

Building a message is separate from sending it (see ``alerting.notifications.transports``), so every
rendering here is a pure function of a :class:`Message`, tested without a network.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlsplit

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup, escape

PRIORITY_COLOURS = {"HIGH": "#c0392b", "MEDIUM": "#d97706", "LOW": "#2f6f9f"}
APPRISE_MESSAGE_LIMIT = 1000
APPRISE_VALUE_LIMIT = 200


class ResponseLink(NamedTuple):
    """One response option offered to the recipient, as a link to its confirm page."""

    text: str
    description: str | None
    url: str


@dataclass
class Message:
    """Everything a transport needs to tell one recipient about one alert."""

    subject_line: str
    sender_name: str
    subject: str
    body: str
    priority: str
    event_identifier: int
    alert_id: str
    properties: dict = field(default_factory=dict)
    response_links: list[ResponseLink] = field(default_factory=list)
    alert_url: str | None = None
    recipient: str | None = None
    device_name: str | None = None
    test: bool = False  # a device's "Send test": no alert behind it, so no alert number is shown

    @property
    def event_label(self) -> str:
        """"Alert #869000", or for a test message a plain word that it is one (never "Alert #0")."""
        return "Test message: no alert behind it" if self.test else f"Alert #{self.event_identifier}"

    @property
    def event_header(self) -> str:
        """The X-Klaxon-Event header: the alert number, or "test"."""
        return "test" if self.test else str(self.event_identifier)


def _one_line(value) -> str:
    # Header values (Subject, From) must not carry line breaks.
    return " ".join(str(value or "").split())


def _link(item) -> ResponseLink:
    if isinstance(item, dict):
        return ResponseLink(item["text"], item.get("description"), item["url"])
    text, description, url = item
    return ResponseLink(text, description, url)


def build_message(*, sender_name, subject, message, priority, event_identifier, alert_id, properties,
                  response_links, alert_url=None, recipient=None, device_name=None, test=False) -> Message:
    """Make the message for one notification; the subject line is ``[PRIORITY] sender_name: subject``.

    ``response_links`` holds ``(text, description, url)`` tuples or dicts with those keys.
    """
    priority = _one_line(priority).upper() or "MEDIUM"
    sender_name, subject = _one_line(sender_name), _one_line(subject)
    prefix = f"[{priority}] {sender_name}: " if sender_name else f"[{priority}] "
    return Message(
        subject_line=prefix + subject, sender_name=sender_name, subject=subject, body=message or "",
        priority=priority, event_identifier=int(event_identifier), alert_id=str(alert_id),
        properties=dict(properties or {}), response_links=[_link(i) for i in response_links or []],
        alert_url=alert_url, recipient=recipient, device_name=device_name, test=test)


def display_value(value) -> str:
    """A property value as people read it: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def render_text(msg: Message) -> str:
    """The plain-text body: subject line, message, alert number, properties and response links."""
    lines = [msg.subject_line, ""]
    if msg.body:
        lines += [msg.body, ""]
    lines.append(msg.event_label)
    lines += [f"{key}: {display_value(value)}" for key, value in msg.properties.items()]
    if msg.response_links:
        lines += ["", "Respond:"]
        for link in msg.response_links:
            lines.append(f"{link.text}: {link.url}")
            if link.description:
                lines.append(f"    {link.description}")
    if msg.alert_url:
        lines += ["", f"View alert: {msg.alert_url}"]
    if msg.recipient:
        device = f" ({msg.device_name})" if msg.device_name else ""
        lines += ["", f"Sent by Klaxon to {msg.recipient}{device}."]
    return "\n".join(lines) + "\n"


def _nl2br(value) -> Markup:
    return Markup("<br>\n").join(escape(line) for line in str(value).splitlines())


def _safe_href(url) -> str:
    # Only web links become hrefs; anything else (javascript:, data:) is dropped.
    return url if url and urlsplit(str(url)).scheme in ("http", "https") else "#"


_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ m.subject_line }}</title></head>
<body style="margin:0;padding:0;background:#f3f4f6;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f3f4f6;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="600" cellpadding="0" cellspacing="0"
 style="width:100%;max-width:600px;background:#ffffff;border:1px solid #e5e7eb;border-radius:6px;
 font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#111827;font-size:15px;line-height:1.5;">
<tr><td style="border-top:6px solid {{ colour }};border-radius:6px 6px 0 0;padding:20px 24px 8px 24px;">
 <span style="display:inline-block;background:{{ colour }};color:#ffffff;font-size:12px;font-weight:bold;
 letter-spacing:0.5px;padding:3px 10px;border-radius:3px;">{{ m.priority }}</span>
 <span style="color:#6b7280;font-size:13px;padding-left:8px;">{{ m.sender_name }}</span>
 <h1 style="margin:12px 0 0 0;font-size:20px;line-height:1.3;font-weight:600;">{{ m.subject }}</h1>
 <div style="color:#6b7280;font-size:13px;margin-top:4px;">{{ m.event_label }}</div>
</td></tr>
{% if m.body %}<tr><td style="padding:12px 24px;">{{ m.body | nl2br }}</td></tr>{% endif %}
{% if m.properties %}<tr><td style="padding:8px 24px;">
 <table role="presentation" width="100%" cellpadding="0" cellspacing="0"
  style="border-collapse:collapse;font-size:14px;">
 {% for key, value in m.properties.items() %}<tr>
  <td width="35%" style="width:35%;padding:6px 12px 6px 0;border-bottom:1px solid #e5e7eb;color:#6b7280;
  vertical-align:top;word-break:break-word;">{{ key }}</td>
  <td style="padding:6px 0;border-bottom:1px solid #e5e7eb;vertical-align:top;word-break:break-word;">
  {{ value | shown | nl2br }}</td></tr>
 {% endfor %}</table></td></tr>{% endif %}
{% if m.response_links %}<tr><td style="padding:16px 24px 8px 24px;">
 <div style="font-size:13px;color:#6b7280;margin-bottom:8px;">Respond:</div>
 {% for link in m.response_links %}<div style="margin:0 0 12px 0;">
  <a href="{{ link.url | href }}" style="display:inline-block;background:#1f2937;color:#ffffff;
  text-decoration:none;font-weight:600;font-size:14px;padding:10px 18px;border-radius:4px;">{{ link.text }}</a>
  {% if link.description %}<span style="color:#6b7280;font-size:13px;padding-left:8px;">
  {{ link.description }}</span>{% endif %}</div>
 {% endfor %}</td></tr>{% endif %}
{% if m.alert_url %}<tr><td style="padding:4px 24px 12px 24px;font-size:14px;">
 <a href="{{ m.alert_url | href }}" style="color:#2563eb;">View alert #{{ m.event_identifier }}</a></td></tr>{% endif %}
<tr><td style="padding:12px 24px 20px 24px;border-top:1px solid #e5e7eb;color:#9ca3af;font-size:12px;">
 Sent by Klaxon{% if m.recipient %} to {{ m.recipient }}
 {%- if m.device_name %} ({{ m.device_name }}){% endif %}{% endif %}.
</td></tr>
</table></td></tr></table>
</body></html>
"""

_env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_env.filters.update(nl2br=_nl2br, href=_safe_href, shown=display_value)
_html_template = _env.from_string(_HTML)


def render_html(msg: Message) -> str:
    """The HTML email body, inline CSS only; every user-supplied value is escaped."""
    colour = PRIORITY_COLOURS.get(msg.priority, PRIORITY_COLOURS["MEDIUM"])
    return _html_template.render(m=msg, colour=colour)


def webhook_device_body(msg: Message) -> dict:
    """The JSON body POSTed to a ``webhook`` device, in camelCase."""
    body = {
        "eventIdentifier": None if msg.test else msg.event_identifier,
        "alertId": None if msg.test else msg.alert_id,
        "subject": msg.subject,
        "subjectLine": msg.subject_line,
        "message": msg.body,
        "priority": msg.priority,
        "senderName": msg.sender_name,
        "properties": dict(msg.properties),
        "recipient": msg.recipient,
        "device": msg.device_name,
        "responses": [{"text": link.text, "description": link.description, "url": link.url}
                      for link in msg.response_links],
        "alertUrl": msg.alert_url,
    }
    return body | {"test": True} if msg.test else body


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def apprise_body(msg: Message) -> tuple[str, str]:
    """A short ``(title, body)`` for chat apps: the message, properties and response links."""
    parts = []
    if msg.body:
        parts.append(_clip(msg.body, APPRISE_MESSAGE_LIMIT))
    facts = [msg.event_label]
    facts += [f"{key}: {_clip(display_value(value), APPRISE_VALUE_LIMIT)}" for key, value in msg.properties.items()]
    parts.append("\n".join(facts))
    if msg.response_links:
        parts.append("\n".join(f"{link.text}: {link.url}" for link in msg.response_links))
    if msg.alert_url:
        parts.append(f"View alert: {msg.alert_url}")
    return msg.subject_line, "\n\n".join(parts)
