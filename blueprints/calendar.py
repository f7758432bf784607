"""/calendar/{signed token}.ics: on-call feeds for calendar apps, readable without a session (SPEC §9)."""
from __future__ import annotations

from flask import Blueprint, Response

from alerting.notifications import calendar_feeds

bp = Blueprint("calendar", __name__)


@bp.get("/calendar/<token>.ics")
def feed(token):
    """A group's or a user's shifts as iCalendar; 404 for a forged or revoked token."""
    owner = calendar_feeds.read_token(token)
    if owner is None:
        return Response("This calendar link is not valid (it may have been regenerated).\n", 404,
                        mimetype="text/plain")
    return Response(calendar_feeds.feed(owner), mimetype="text/calendar",
                    headers={"Cache-Control": "private, max-age=300"})
