"""Scenario time. The test server's clock starts at the machine's time and only moves forward, while a scenario
starts at an instant of its own (`start:`, often in the past): the drill keeps the offset between the two and reads
on-call schedules at scenario time, which is the only place the config looks at the calendar."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import PrivateAttr

from incident.config import Config
from incident.schedule import Schedule


class _ShiftedSchedule(Schedule):
    """A schedule read at scenario time: the test server's clock plus the drill's offset."""

    _shift: timedelta = PrivateAttr(default_factory=timedelta)

    def on_call(self, at: datetime) -> str | None:
        return super().on_call(at + self._shift)


def at_scenario_time(config: Config, shift: timedelta) -> Config:
    """The config as the drill's worker sees it: schedules answer for `server time + shift`."""
    schedules = {}
    for name, sched in config.schedules.items():
        shifted = _ShiftedSchedule.model_construct(**{k: getattr(sched, k) for k in Schedule.model_fields})
        shifted._shift = shift
        schedules[name] = shifted
    return config.model_copy(update={"schedules": schedules})
