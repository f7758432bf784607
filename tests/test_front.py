"""runtime/front.py driven as gunicorn's asgi worker drives it (scope, receive, send) around a real
Flask app through a2wsgi: an app that fails after start_response but before any of its answer
went out (a teardown raising) gets a JSON 500 sent for it, not a connection closed with nothing."""
import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

from flask import Flask

from runtime.front import application

FAILING = {"teardown": False}


def teardown_app():
    """A bare Flask app whose teardown raises when FAILING says so, as Flask-SQLAlchemy's did when
    the database was cut under its ROLLBACK."""
    app = Flask(__name__)

    @app.get("/hello")
    def hello():
        return {"hello": "world"}

    @app.teardown_appcontext
    def teardown(_exc):
        if FAILING["teardown"]:
            raise RuntimeError("teardown failed")
    return app


def call(front, path="/hello"):
    """(status, headers, body) the app sends for GET ``path``."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": [],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    # in a thread of its own: a browser test's Playwright may have left an event loop in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, front(scope, receive, send)).result()
    (start,) = [m for m in sent if m["type"] == "http.response.start"]
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert bodies and not bodies[-1].get("more_body"), sent  # the answer is complete
    return start["status"], dict(start["headers"]), json.loads(b"".join(m.get("body", b"") for m in bodies))


def test_an_app_failing_after_start_response_gets_a_json_500_sent_for_it(monkeypatch):
    front = application("tests.test_front:teardown_app")
    status, _, body = call(front)
    assert (status, body) == (200, {"hello": "world"})

    monkeypatch.setitem(FAILING, "teardown", True)
    status, headers, body = call(front)
    assert (status, headers[b"content-type"], body["code"], body["reason"]) == (
        500, b"application/json", 500, "Internal Server Error")
