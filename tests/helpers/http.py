"""Real HTTP servers on loopback: a recording webhook sink, a server answering with a function, uvicorn."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import uvicorn

from gateway.http_server import server_config
from tests.helpers.wait import until


@dataclass
class Sink:
    """A webhook receiver on loopback that records every POST. Paths can be set to fail; requests its `hold`
    picks wait (a slow receiver) until `release` is set."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    fail_paths: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)

    def for_path(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.received if r["path"] == path]

    def to(self, path: str, kind: str | None = None) -> list[dict[str, Any]]:
        """What reached `path`, optionally only one kind of page (`page`, `notice`, `approval`, ...)."""
        return [r for r in self.for_path(path) if kind is None or (r["json"] or {}).get("kind") == kind]


@dataclass
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Respond = Callable[[HttpRequest], tuple[int, dict[str, str], bytes]]


@contextmanager
def loopback_http(respond: Respond) -> Iterator[str]:
    """A real HTTP server on a free loopback port answering every GET and POST with `respond`; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0) or 0))
            status, headers, raw = respond(HttpRequest(self.command, self.path, dict(self.headers), body))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def recording_sink(hold: Callable[[HttpRequest], bool] | None = None, hold_for: float = 60.0) -> Iterator[Sink]:
    """A Sink on loopback: records every request's JSON, answers 503 on `fail_paths`, and holds what `hold`
    picks until the sink's `release` is set (at most `hold_for` seconds)."""
    state = Sink()

    def respond(req: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        if req.path in state.fail_paths:
            return 503, {}, b""
        with state.lock:
            state.received.append({"path": req.path, "headers": req.headers, "json": json.loads(req.body or b"null")})
        if hold is not None and hold(req):
            state.release.wait(timeout=hold_for)
        return 200, {}, b""

    with loopback_http(respond) as url:
        state.url = url
        try:
            yield state
        finally:
            state.release.set()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_fixed_ports(span: int) -> int:
    """The first of `span` free loopback ports below the kernel's ephemeral range.

    For a process that derives ports from a base (`baton up` serves metrics at its intake's port + 64): a base from
    `free_port` lies in the ephemeral range, where the Temporal dev server that `baton up` starts picks its own
    ports, so a derived port could be taken between the check and the bind."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(10000, low - span)
        if all(_free(base + i) for i in range(span)):
            return base
    raise RuntimeError(f"no {span} free ports below {low}")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Run an ASGI app with uvicorn, as baton serves it, on a free loopback port; yield its base URL."""
    server = uvicorn.Server(server_config(app))
    task = asyncio.create_task(server.serve())
    await until(lambda: _started(server), timeout=10)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def _started(server: uvicorn.Server) -> bool:
    return server.started
