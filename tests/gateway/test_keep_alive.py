"""baton's HTTP servers keep an idle connection open longer than clients and load balancers do, so a source
reusing a connection never meets one the server has just closed (a reset it cannot tell from a lost event)."""

from __future__ import annotations

import asyncio
import socket

from fastapi import FastAPI

from tests.helpers.http import serving

REQUEST = b"GET /ping HTTP/1.1\r\nHost: baton\r\n\r\n"
IDLE = 6.5
"""Past uvicorn's own default keep-alive (5 s), which closed connections a source was about to reuse."""


def app() -> FastAPI:
    a = FastAPI()
    a.get("/ping")(lambda: {"ok": True})
    return a


async def answer(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length"))
    return await reader.readexactly(length)


async def test_an_idle_connection_is_still_open_after_seconds_of_quiet() -> None:
    async with serving(app()) as url:
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port, family=socket.AF_INET)
        try:
            writer.write(REQUEST)
            assert await answer(reader) == b'{"ok":true}'
            try:
                closed = await asyncio.wait_for(reader.read(1), timeout=IDLE)
                raise AssertionError(f"the server closed an idle connection within {IDLE}s (read {closed!r})")
            except TimeoutError:
                pass  # still open: what a source reusing it needs
            writer.write(REQUEST)
            assert await answer(reader) == b'{"ok":true}'
        finally:
            writer.close()
