"""The web front: gunicorn's asyncio (ASGI) worker in front of the Flask app (``application()``).

With gthread, each thread read its request's headers itself, so 16 clients trickling their
headers held every thread and /healthz timed out (24 stopped the service). Here the event loop
reads every request's headers and (up to the payload limit) its body, so a slow client costs a
coroutine, not a thread (up to gunicorn's --worker-connections per process), and only complete
requests reach Flask, in a pool of ``WEB_THREADS`` threads (a2wsgi). /healthz answers from the
loop itself: the process is up even while every thread waits for the database.

An app that raises before any of its answer went out (Flask runs its teardowns after
start_response) gets SPEC §2's JSON 500 sent for it: gunicorn would close the connection with
no answer at all, the answer's status line being already started.
"""
from __future__ import annotations

import importlib
import json
import logging

from a2wsgi import WSGIMiddleware

WEB_THREADS = 8  # Flask requests at once per web process
DRAIN_BYTES = 32 * 1024 * 1024  # the most of an unread (too large) body read and dropped after the answer
log = logging.getLogger("klaxon.front")
JSON_HEADERS = [(b"content-type", b"application/json"), (b"x-content-type-options", b"nosniff"),
                   (b"x-frame-options", b"DENY"), (b"referrer-policy", b"same-origin")]


def application(factory: str = "app:create_app"):
    """The ASGI app gunicorn serves (``runtime.front:application()``) around the Flask app ``factory``
    makes (module:function; the benchmark's yardstick passes its bare app)."""
    module, _, name = factory.partition(":")
    flask_app = getattr(importlib.import_module(module), name)()
    limit = flask_app.config.get("MAX_CONTENT_LENGTH") or 1024 * 1024
    settings = flask_app.config.get("KLAXON")
    wsgi = WSGIMiddleware(flask_app, workers=WEB_THREADS)

    async def front(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/healthz" and scope["method"] in ("GET", "HEAD"):
            await healthz(scope, send)
            return
        if scope["type"] != "http":
            await wsgi(scope, receive, send)
            return
        body = Body(receive)
        app_scope, app_receive = await read_body_first(scope, body.receive, limit)
        if app_scope is None:
            await too_large(send, limit, getattr(settings, "max_payload_bytes", limit))
        else:
            answer = Answer(send)
            try:
                await wsgi(app_scope, app_receive, answer.send)
            except Exception:
                if answer.out:
                    raise  # part of the answer is out: only closing the connection tells the client
                log.exception("%s %s failed before its answer went out; answering 500",
                              scope["method"], scope["path"])
                await failed(send)
        await body.drain()  # a sender that writes its whole body before reading gets the answer, not a reset
    return front


class Body:
    """A request's receive that knows whether the body has been read to its end."""

    def __init__(self, receive):
        self._receive = receive
        self.ended = False

    async def receive(self):
        message = await self._receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            self.ended = True
        return message

    async def drain(self, most: int = DRAIN_BYTES) -> None:
        """Read and drop what the app left of the body (at most ``most`` bytes); never past its end,
        where the server's receive would wait for the client to disconnect."""
        read = 0
        while not self.ended and read <= most:
            read += len((await self.receive()).get("body", b""))


class Answer:
    """The app's ``send`` holding http.response.start back until the first body message, so that
    until then nothing is out and another answer can still be sent instead (gunicorn writes the
    status line with the first body bytes anyway)."""

    def __init__(self, send):
        self._send = send
        self._start = None
        self.out = False

    async def send(self, message) -> None:
        if message["type"] == "http.response.start" and not self.out:
            self._start = message
            return
        self.out = True
        if self._start is not None:
            start, self._start = self._start, None
            await self._send(start)
        await self._send(message)


async def failed(send) -> None:
    body = json.dumps({"code": 500, "reason": "Internal Server Error",
                       "message": "Klaxon failed to answer; the error is in its log."}).encode()
    await send({"type": "http.response.start", "status": 500,
                "headers": JSON_HEADERS + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def healthz(scope, send) -> None:
    body = b'{"status":"ok"}\n'
    await send({"type": "http.response.start", "status": 200,
                "headers": JSON_HEADERS + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


async def too_large(send, limit: int, payload_limit: int) -> None:
    """SPEC §2's 413 for a chunked body that passed ``limit`` while the loop read it."""
    body = json.dumps({"code": 413, "reason": "Payload Too Large", "message": (
        f"The body is more than {limit} bytes; the limit is {payload_limit} (KLAXON_MAX_PAYLOAD_BYTES).")}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": JSON_HEADERS + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def read_body_first(scope, receive, limit: int):
    """Read the body (up to ``limit``) in the loop, so no thread waits for a slow sender.

    Returns (scope, receive) for the app: a chunked body, once read, gets its Content-Length.
    A declared length over ``limit`` streams on (Flask answers 413 from the header); a chunked
    body that passes ``limit`` gives (None, None): the caller answers 413.
    """
    headers = scope["headers"]
    declared = next((value for name, value in headers if name == b"content-length"), None)
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return scope, receive
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return scope, _replay([message], receive)
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return None, None
        if not message.get("more_body"):
            break
    if declared is None and size:
        scope = dict(scope, headers=[(n, v) for n, v in headers if n != b"transfer-encoding"]
                     + [(b"content-length", str(size).encode())])
    return scope, _replay([{"type": "http.request", "body": b"".join(chunks), "more_body": False}], receive)


def _replay(messages: list, receive):
    """A receive that gives ``messages`` first, then whatever the connection says next."""
    async def replayed():
        if messages:
            return messages.pop(0)
        return await receive()
    return replayed
