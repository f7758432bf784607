"""The admin dashboard (SPEC §6): server-rendered pages, HTMX for edits in place."""
from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user

from blueprints.dashboard.forms import ADMIN_ONLY, ago, is_htmx, when

bp = Blueprint("dashboard", __name__)

# No inline script or style anywhere: htmx and klaxon.js come from /static.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'")


@bp.before_request
def require_login():
    """Every dashboard page needs a signed-in user; a poll after sign-out takes the whole tab to the login."""
    if current_user.is_authenticated:
        return None
    if is_htmx():
        return "", 204, {"HX-Redirect": url_for("auth.login")}
    return current_app.login_manager.unauthorized()


@bp.after_request
def security_headers(response):
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CSP
    response.vary.add("HX-Request")
    return response


@bp.app_context_processor
def dashboard_endpoints():
    """``endpoints`` for the nav: every view, less the admin pages when a responder is signed in."""
    endpoints = set(current_app.view_functions)
    if not (current_user.is_authenticated and current_user.is_admin):
        endpoints -= ADMIN_ONLY
    return {"endpoints": endpoints}


@bp.app_template_filter("when")
def when_filter(value, seconds=True):
    return when(value, seconds)


@bp.app_template_filter("ago")
def ago_filter(value):
    return ago(value)


@bp.errorhandler(403)
def forbidden(_error):
    return render_template("dashboard/forbidden.html"), 403


@bp.get("/")
def index():
    return redirect(url_for("dashboard.alerts"))


# The page modules register their views on bp.
from blueprints.dashboard import (  # noqa: E402,F401
    alerts,
    configurations,
    flows,
    heartbeats,
    maintenance,
    oncall,
    people,
    templates,
    updates,
    webhook_log,
)
