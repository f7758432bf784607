"""What every HTTP surface shares at its edge: ids in URLs, request bodies left unread, and the
answer to an error no view handled (SPEC §2: never a bare framework page outside the dashboard).

Registered first (blueprints.BLUEPRINTS): a rule takes its converter when it is added.
"""
import time

from flask import Blueprint, jsonify, render_template, request
from werkzeug import routing
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import ValidationError

from alerting.ids import row_id

bp = Blueprint("edges", __name__)
DRAIN_BYTES = 64 * 1024 * 1024  # beyond this a sender is abusive, not mistaken: the connection just closes
DRAIN_SECONDS = 10.0
# URLs machines call: their errors are SPEC §2's JSON; /respond/ pages are opened by people
MACHINE_PATHS = ("/api/", "/v2/", "/healthz", "/readyz", "/metrics", "/calendar/")
PERSON_PATHS = ("/respond/",)


class IntegerConverter(routing.IntegerConverter):
    """``<int:…>`` in Klaxon's URLs is a row id: "³", "٣" and 99999999999999999999 are a 404, not a 500."""

    regex = r"[0-9]{1,10}"

    def to_python(self, value: str) -> int:
        found = row_id(value)
        if found is None:
            raise ValidationError()
        return found


@bp.record_once
def install_converters(state):
    state.app.url_map.converters["int"] = IntegerConverter


@bp.app_errorhandler(HTTPException)
def unhandled_http_error(exc: HTTPException):
    """JSON ``{"code", "reason", "message"}`` for machine URLs, a readable page for a response link;
    the dashboard's own pages keep their answers (a view's handler, when it has one, comes first)."""
    if request.path.startswith(PERSON_PATHS):
        return render_template("respond/invalid.html", message=error_message(exc)), exc.code
    if not request.path.startswith(MACHINE_PATHS) or exc.code is None:
        return exc
    response = jsonify({"code": exc.code, "reason": exc.name, "message": error_message(exc)})
    response.status_code = exc.code
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def error_message(exc: HTTPException) -> str:
    """What to fix, in a sentence: the methods a URL takes, or the error's own description."""
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        methods = [m for m in exc.valid_methods if m not in ("HEAD", "OPTIONS")] or exc.valid_methods
        return f"{request.method} is not allowed here; use {' or '.join(methods)}."
    return exc.description or exc.name


@bp.after_app_request
def discard_unread_body(response):
    """Read what is left of the request body before answering (a 413, a 401 before the body).

    A server that closes a connection with unread input sends a reset, and a client still
    sending its body (http.client, urllib) then sees "connection reset", not our answer.
    """
    environ = request.environ
    if not environ.get("wsgi.input_terminated"):  # only an input that ends itself (gunicorn) can be drained
        return response
    if (request.content_length or 0) > DRAIN_BYTES:
        return response
    stream, drained, deadline = environ["wsgi.input"], 0, time.monotonic() + DRAIN_SECONDS
    try:
        while drained < DRAIN_BYTES and time.monotonic() < deadline:
            chunk = stream.read(65536)
            if not chunk:
                break
            drained += len(chunk)
    except OSError:
        pass  # the client went away: nothing left to answer
    return response
