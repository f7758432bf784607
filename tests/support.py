"""Real parts for tests: an HTTP receiver and an SMTP server on 127.0.0.1 (and `klaxon serve` from bench.harness)."""
from __future__ import annotations

import json
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.harness import ROOT, LiveKlaxon, free_port, wait_until  # noqa: F401  (re-exported for tests)


class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests and answers from a script.

    ``script`` is a list of (status, headers, body) used in turn; the last one repeats.
    ``delay`` sleeps before answering (to test timeouts).
    """

    def __init__(self, script=None, delay=0.0):
        self.requests: list[dict] = []
        self.script = list(script or [(200, {}, b'{"ok": true}')])
        self.delay = delay
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver._handle(self)

            do_PUT = do_PATCH = do_GET = do_DELETE = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handle(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self.lock:
            index = len(self.requests)
            status, headers, reply = self.script[min(index, len(self.script) - 1)]
            self.requests.append({"method": handler.command, "path": handler.path, "headers": dict(handler.headers),
                                  "body": body, "at": time.time()})
            self.arrived.notify_all()
        if self.delay:
            time.sleep(self.delay)
        reply = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(reply)))
        handler.end_headers()
        handler.wfile.write(reply)

    def json_bodies(self, path=None):
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests if path is None or r["path"].startswith(path)]

    def wait_for(self, count, timeout=10.0, path=None):
        def enough():
            with self.lock:
                hits = [r for r in self.requests if path is None or r["path"].startswith(path)]
                return hits if len(hits) >= count else None
        return wait_until(enough, timeout, message=f"{count} requests at {self.url}{path or ''}")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class SmtpServer:
    """aiosmtpd on 127.0.0.1 keeping every message it accepts (parsed with the default policy)."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                       "email": message_from_bytes(envelope.content, policy=policy.default)})
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def wait_for(self, count, timeout=10.0):
        return wait_until(lambda: self.messages if len(self.messages) >= count else None, timeout,
                          message=f"{count} emails")

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()
