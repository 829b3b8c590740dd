"""The main loop's one durable timer, kept while its deadline stays the same.

The loop wakes for every alert that joins the incident, every note and every request; before "one-deadline-timer"
each wake cancelled the timer for the next deadline and started it again (two history events and two timer writes
on the server per joining alert). This timer is armed for a deadline and kept across wakes until the deadline
changes or it fires.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

ONE_DEADLINE_TIMER = "one-deadline-timer"
"""Patch: the main loop keeps its deadline timer across wakes while the deadline is unchanged."""


class DeadlineTimer:
    def __init__(self) -> None:
        self._at: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._armed: tuple[int, datetime | None] = (-1, None)
        """(history length of the workflow task that armed the timer, the clock then)."""

    async def wait(self, deadline: datetime | None, why: str | None, now: datetime, woken: Callable[[], bool]) -> bool:
        """Wait until `woken()` or `deadline`; True when the deadline came (the timer fired)."""
        task_length = workflow.info().get_current_history_length()
        if deadline != self._at or self._task is None or self._task.done() or self._stale(task_length, now):
            self.cancel()
            if deadline is not None:
                left = max(deadline - now, timedelta(milliseconds=1))  # a timer needs a positive duration
                self._task = asyncio.get_running_loop().create_task(workflow.sleep(left, summary=why))
                self._at, self._armed = deadline, (task_length, now)
        task = self._task
        if task is None:
            await workflow.wait_condition(woken)
            return False
        await workflow.wait_condition(lambda: woken() or task.done())
        if task.done():
            self._task, self._at = None, None
            return True
        return False

    def _stale(self, task_length: int, now: datetime) -> bool:
        """Armed earlier in this same workflow task, whose clock has moved since (a local activity answered): a
        timer counts from the end of the task that starts it, so it is armed again for what is left. Within one
        task the first timer was never sent, so this costs no event."""
        armed_length, armed_now = self._armed
        return armed_length == task_length and armed_now != now

    def cancel(self) -> None:
        """Stop the timer (the loop is over): a deadline that no longer matters wakes nothing."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task, self._at = None, None
