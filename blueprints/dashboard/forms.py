"""Shared helpers of the dashboard pages: fragment rendering, admin checks, form values and errors."""
from __future__ import annotations

import functools
import math
from datetime import datetime

from flask import abort, current_app, render_template, request
from flask_login import current_user

from alerting.errors import FieldError

# Endpoints only admins may open; filled by @admin_required and used to trim the nav for responders.
ADMIN_ONLY: set[str] = set()


def is_htmx() -> bool:
    """An HTMX request that wants a fragment (not a history restore, which needs the whole page)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


def render(template_name: str, block: str | None = None, status: int = 200, **context):
    """The whole page, or only ``block`` of the same template when HTMX asked (jinja2-fragments style)."""
    if block is None or not is_htmx():
        return render_template(template_name, **context), status
    return render_fragment(template_name, block, status, **context)


def render_fragment(template_name: str, block: str, status: int = 200, **context):
    """Only ``block`` of the template, whoever asked: for URLs that exist only to serve a fragment."""
    template = current_app.jinja_env.get_template(template_name)
    current_app.update_template_context(context)
    html = "".join(template.blocks[block](template.new_context(context)))
    return html, status


def error_status() -> int:
    """htmx swaps only 2xx answers, so a fragment with field errors comes back as 200; a full page as 422."""
    return 200 if is_htmx() else 422


def admin_required(view):
    """Admins only: responders get 403 (they may still see and act on alerts)."""
    ADMIN_ONLY.add(f"dashboard.{view.__name__}")

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def field_errors(exc: FieldError) -> dict[str, str]:
    """{field: message} with the field name taken off the front of the message, for showing beside it."""
    message = exc.message.removeprefix(f"{exc.field}: ").strip()
    return {exc.field: message[:1].upper() + message[1:]}


def whole_number(raw: str | None):
    """Form text to int where it is one; anything else goes to the shared validator, which names the field."""
    raw = (raw or "").strip()
    if raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        return raw


class Page:
    """One page of a query: ``items``, ``number``, ``pages``, ``total``."""

    def __init__(self, query, number: int, size: int = 25):
        self.total = query.order_by(None).count()
        self.size = size
        self.pages = max(1, math.ceil(self.total / size))
        self.number = min(max(1, number), self.pages)
        self.items = query.offset((self.number - 1) * size).limit(size).all()

    @property
    def first_index(self):
        return (self.number - 1) * self.size + 1 if self.total else 0

    @property
    def last_index(self):
        return self.first_index + len(self.items) - 1 if self.items else 0


def page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() else 1


def list_filters(choices: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """A list page's filters from the query string: each of ``choices`` one of its values or "" (unknown
    values are ignored), then ``configuration`` (a uuid)."""
    args = request.args
    filters = {name: args.get(name) if args.get(name) in allowed else "" for name, allowed in choices.items()}
    filters["configuration"] = args.get("configuration", "")[:36]
    return filters


def filtered(query, filters: dict[str, str], columns: dict, configuration_id):
    """``query`` narrowed by the filters that are set: ``columns`` maps a filter to the column it matches;
    ``configuration_id`` is the column that joins the configuration the ``configuration`` filter names."""
    from models import Configuration

    for name, column in columns.items():
        if filters[name]:
            query = query.filter(column == filters[name])
    if filters["configuration"]:
        query = query.join(Configuration, Configuration.id == configuration_id) \
            .filter(Configuration.uuid == filters["configuration"])
    return query


def when(value: datetime | None, seconds: bool = True) -> str:
    """A UTC timestamp as people read it: 2025-11-28 13:25:07."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """Roughly how long ago: 'just now', '4 min ago', '3 h ago', '2 d ago'."""
    if value is None:
        return "never"
    from models import utcnow

    seconds = max(0, int(((now or utcnow()) - value).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now" if seconds < 10 else f"{seconds} s ago"
