"""The admin dashboard (SPEC §6): server-rendered pages, HTMX for edits in place."""
from flask import Blueprint, redirect, url_for
from flask_login import login_required

bp = Blueprint("dashboard", __name__)


@bp.before_request
@login_required
def require_login():
    """Every dashboard page needs a signed-in user."""


@bp.get("/")
def index():
    return redirect(url_for("dashboard.alerts"))


from blueprints.dashboard import pages  # noqa: E402,F401  (registers the page views)
