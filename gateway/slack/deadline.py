"""Answering within Slack's three seconds: work that takes longer is acknowledged and finished in the background."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import structlog

log = structlog.get_logger("baton.slack")
T = TypeVar("T")

DEADLINE = 2.5
"""Seconds a request waits for the façade before it is acknowledged and finished in the background (Slack gives
up after 3)."""


class Deadline:
    """Runs work for at most `seconds` in the request; the rest finishes in the background, held until done."""

    def __init__(self, seconds: float = DEADLINE):
        self.seconds = seconds
        self._tasks: set[asyncio.Task[Any]] = set()

    async def within(self, work: Coroutine[Any, Any, T], late: Callable[[T], Awaitable[None]] | None) -> T | None:
        """`work`'s result if it is done within the deadline; else None, and `late` gets the result when it is."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=self.seconds)
        if task in done:
            return task.result()

        async def finish() -> None:
            try:
                result = await task
                if late is not None:
                    await late(result)
            except Exception:
                log.exception("slack work failed after the answer was sent")

        later = asyncio.create_task(finish())
        self._tasks.add(later)  # keep a reference until done: the loop holds only weak ones
        later.add_done_callback(self._tasks.discard)
        return None
