"""Response links (SPEC §3): GET shows a confirm page and records nothing; only the POST records.

Mail scanners and link previews follow GET links, so a GET must never count as a response.
"""
from flask import Blueprint, render_template, request
from flask_wtf.csrf import CSRFError

from alerting.errors import Conflict, FieldError
from alerting.notifications.responses import InvalidToken, read_token, record_response
from extensions import db

bp = Blueprint("respond", __name__)
COMMENT_LIMIT = 5000


@bp.errorhandler(InvalidToken)
def _invalid(exc: InvalidToken):
    return render_template("respond/invalid.html", message=exc.message), exc.status


@bp.errorhandler(CSRFError)
def _no_csrf(_exc: CSRFError):
    # a POST from anything but the confirm page (a scanner, an expired form): say what to do, record nothing
    message = ("This confirmation form has expired or did not come from Klaxon's page. Open the link in the "
               "message again and press the button there.")
    return render_template("respond/invalid.html", message=message), 400


@bp.get("/respond/<token>")
def confirm(token):
    """The confirm page: the alert, the chosen option, an optional comment and a button."""
    link = read_token(token)
    return render_template("respond/confirm.html", link=link, error=None, comment="")


@bp.post("/respond/<token>")
def record(token):
    """Record the response the link stands for, with the comment typed on the confirm page."""
    link = read_token(token)
    comment = request.form.get("comment", "").strip()
    if len(comment) > COMMENT_LIMIT:
        error = f"The comment is {len(comment)} characters; keep it under {COMMENT_LIMIT}."
        return render_template("respond/confirm.html", link=link, error=error, comment=comment), 400
    try:
        record_response(link.alert, recipient=link.notification.recipient, option_text=link.option["text"],
                        comment=comment or None, notification=link.notification)
        db.session.commit()
    except (Conflict, FieldError) as exc:
        db.session.rollback()
        return _invalid(InvalidToken(str(exc), 410 if isinstance(exc, Conflict) else 400))
    return render_template("respond/done.html", link=link, comment=comment)


@bp.after_request
def private(response):
    # the URL holds the token: keep it out of Referer headers and shared caches
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
