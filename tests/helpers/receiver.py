"""A loopback webhook receiver for people's `webhook:`: records every page it accepts (docs/paging.md, "Webhook"),
and can be told to hold a request (a slow receiver), answer 500, or hang past the sender's timeout."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Answer = tuple[Literal["ok", "fail", "hang"], float]
"""What to do with one request: ("ok", hold seconds before the 200), ("fail", 0) for a 500, ("hang", seconds to
hold before closing without an answer)."""
Behaviour = Callable[[str, dict[str, Any]], Answer]


@dataclass(frozen=True)
class Received:
    path: str
    body: dict[str, Any]
    idempotency_key: str
    arrived: float
    """time.time() when the request arrived"""
    answered: float
    """time.time() when the 200 was written: a page is delivered when the receiver has it, whether or not the
    sender was still there to read the answer"""

    @property
    def kind(self) -> str:
        return str(self.body.get("kind") or self.body.get("type") or "")

    @property
    def page_key(self) -> tuple[str, int, int, str]:
        """(incident, cycle, level, person): what must be paged exactly once."""
        b = self.body
        return (str(b.get("incident_id")), int(b.get("cycle") or 0), int(b.get("level") or 0), str(b.get("recipient")))


@dataclass
class Receiver:
    url: str = ""
    accepted: list[Received] = field(default_factory=list)
    attempts: list[tuple[float, str, str]] = field(default_factory=list)
    """(time, path, what happened) for every request, accepted or not"""
    behaviour: Behaviour = field(default=lambda path, body: ("ok", 0.0))
    lock: threading.Lock = field(default_factory=threading.Lock)
    held: int = 0
    """requests being held right now"""

    def pages(self) -> list[Received]:
        with self.lock:
            return [r for r in self.accepted if r.kind == "page"]

    def url_for(self, person: str) -> str:
        return f"{self.url}/{person}"


@contextmanager
def webhook_receiver(host: str = "127.0.0.1") -> Iterator[Receiver]:
    """A receiver listening on `host` (loopback, or a bridge's address that network namespaces reach)."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            arrived = time.time()
            raw = self.rfile.read(int(self.headers.get("content-length", 0) or 0))
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                body = {"unparsed": raw.decode(errors="replace")}
            body = body if isinstance(body, dict) else {"value": body}
            what, seconds = state.behaviour(self.path, body)
            with state.lock:
                state.attempts.append((arrived, self.path, what))
                state.held += 1
            try:
                if what == "fail":
                    self._answer(500)
                    return
                time.sleep(seconds)
                if what == "hang":
                    self.close_connection = True
                    return
                with state.lock:
                    key = self.headers.get("Idempotency-Key", "")
                    state.accepted.append(Received(self.path, body, key, arrived, time.time()))
                self._answer(200)
            finally:
                with state.lock:
                    state.held -= 1

        def _answer(self, status: int) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender is gone (a killed worker): the receiver has the page all the same

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    state.url = f"http://{host}:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
