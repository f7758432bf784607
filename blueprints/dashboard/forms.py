"""Shared helpers of the dashboard pages: fragment rendering, admin checks, form values and errors."""
from __future__ import annotations

import copy
import functools
import math
import re
from datetime import datetime

from flask import abort, current_app, render_template, request, session
from flask_login import current_user

from alerting.errors import FieldError, FieldErrors
from alerting.ids import row_id

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
    return html + pending_flashes(), status


def pending_flashes() -> str:
    """Messages flashed during this request, as an out-of-band swap of the page's one message area
    (templates/_flashes.html), so an HTMX answer's message shows where every page shows its messages.
    An answer to a POST with none empties the area (the last action's message no longer applies)."""
    if not session.get("_flashes") and request.method == "GET":
        return ""
    return render_template("_flashes.html", oob=True)


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
    """{field: message} for every field that failed (FieldErrors holds several), each message without
    the field name in front, for showing beside its field."""
    found = exc.errors if isinstance(exc, FieldErrors) else {exc.field: exc}
    out = {}
    for field, error in found.items():
        message = error.message.removeprefix(f"{field}: ").strip()
        out[field] = message[:1].upper() + message[1:]
    return out


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
    number = row_id(raw)  # "²".isdigit() is true, and a 20-digit page overflows the database's OFFSET
    return number if number is not None else 1


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


_PATH = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def _dict_keys(field: str) -> list[tuple[list, str]]:
    """Where each dict key of a dotted field path sits: (the path to its dict, the key), outermost first.

    ``updates.status.url`` gives ([], updates), ([updates], status), ([updates, status], url);
    ``recipients[0].id`` gives ([], recipients) and ([recipients, 0], id).
    """
    parts = [int(index) if index else key for index, key in _PATH.findall(field)]
    return [(parts[:i], part) for i, part in enumerate(parts) if isinstance(part, str)]


def _set_aside(data: dict, field: str, depth: int, fallback: dict) -> bool:
    """Take the field ``depth`` dict keys up from the innermost out of ``data`` (a top-level key
    takes its ``fallback`` value when there is one), so the next try checks the other fields."""
    keys = _dict_keys(field)
    if depth >= len(keys):
        return False
    where, key = keys[len(keys) - 1 - depth]
    container = data
    for part in where:
        try:
            container = container[part]
        except (KeyError, IndexError, TypeError):
            return False
    if not isinstance(container, dict) or key not in container:
        return False
    if container is data and key in fallback and data[key] != fallback[key]:
        data[key] = fallback[key]
    else:
        del container[key]
    return True


def _as_field_error(exc: Exception) -> FieldError:
    if isinstance(exc, FieldError):
        return exc
    field, _sep, message = str(exc).partition(": ")  # Conflict reads 'field: message'
    return FieldError(field if message else "form", message or str(exc))


def save_form(save, data: dict, fallback: dict | None = None):
    """``save(data)`` and commit; when the shared validator refuses a field, every field's error at once.

    The validators stop at the first bad field (the REST API answers with that one), so after a
    refusal the transaction is rolled back and ``save`` runs again on a copy of ``data`` with each
    refused field set aside (a required top-level field takes its ``fallback`` value, which must be
    valid), until it passes or nothing more can be set aside; every try is rolled back, so nothing
    is saved. Raises FieldErrors naming every refused field, in the order found.
    """
    from alerting.errors import Conflict
    from extensions import db

    try:
        result = save(copy.deepcopy(data))
        db.session.commit()
        return result
    except (FieldError, Conflict) as exc:
        db.session.rollback()
        first = _as_field_error(exc)
    errors: dict[str, FieldError] = {}
    depth: dict[str, int] = {}
    trial, refused = copy.deepcopy(data), first
    for _ in range(4 * len(data) + 8):  # each pass sets at least one key aside, or stops
        found = refused.errors if isinstance(refused, FieldErrors) else {refused.field: refused}
        moved = False
        for field, error in found.items():
            errors.setdefault(field, error)
            depth[field] = depth.get(field, -1) + 1
            while depth[field] < len(_dict_keys(field)):
                if _set_aside(trial, field, depth[field], fallback or {}):
                    moved = True
                    break
                depth[field] += 1
        if not moved:
            break
        try:
            save(copy.deepcopy(trial))
            db.session.flush()
        except (FieldError, Conflict) as exc:
            refused = _as_field_error(exc)
            continue
        finally:
            db.session.rollback()
        break
    raise FieldErrors(errors)
