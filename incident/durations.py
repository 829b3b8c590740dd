"""Human durations (`5m`, `1h30m`, `2d`, `1500ms`) as written in the config and on the command line.

Durations cross into Temporal as this text (inside the policy an incident starts with), so what is read must be
written back exactly: the resolution is a millisecond, and what is finer, negative or out of range is refused when
read rather than rounded when written.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse `90s`, `5m`, `1h30m`, `2d`, `250ms`; a bare number is seconds. Raises ValueError naming the input,
    also for what format_duration could not write back (finer than a millisecond, negative, too large)."""
    try:
        d = _parse(text)
    except (OverflowError, ValueError):
        raise ValueError(f"not a duration: {text!r} (use e.g. 250ms, 30s, 5m, 1h30m, 2d)") from None
    if d < timedelta(0) or d.microseconds % 1000:
        raise ValueError(f"not a duration: {text!r} (durations are whole milliseconds, not negative)")
    return d


def _parse(text: str | int | float | timedelta) -> timedelta:
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool):
        raise ValueError(text)
    if isinstance(text, int | float):
        return timedelta(seconds=text)
    s = str(text).strip().replace(" ", "")
    if s.isdigit():
        return timedelta(seconds=int(s))
    pos, total = 0, timedelta()
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(text)
    return total


def format_duration(d: timedelta) -> str:
    """The inverse of parse_duration, shortest form: 5400s -> `1h30m`, 1.5s -> `1s500ms`."""
    ms = (d.days * 86400 + d.seconds) * 1000 + d.microseconds // 1000
    if ms == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        n, ms = divmod(ms, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
"""A pydantic field type that reads `5m` and writes it back the same way."""
