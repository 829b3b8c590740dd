"""Waiting on a condition with a deadline, never on a sleep that probably suffices."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def until(check: Callable[[], Awaitable[Any]], pred: Callable[[Any], bool] = bool, timeout: float = 15.0) -> Any:
    """Poll `check` until `pred` holds for its value; fail with the last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if pred(last):
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
