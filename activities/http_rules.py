"""Which HTTP failures are worth another attempt, written once for every HTTP caller in activities/.

Notifiers (webhook, PagerDuty, Slack), action runners and context providers all ask the same questions of a
failed request: may another attempt succeed, how long does the other side ask us to wait, and what did it say (in
a line short enough for a timeline). The answers live here so that a rule changed once holds everywhere.

- Another attempt may help: 408 (the other side timed out), 429 (rate limited), any 5xx, a timeout, a refused or
  dropped connection, any other transport trouble.
- It cannot: every other 4xx (the request itself is wrong), and a URL that cannot be used at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

RETRYABLE_STATUSES = frozenset({408, 429})
"""4xx answers that mean "not now" rather than "never"; every 5xx is retryable too."""

ANSWER_LIMIT = 300
"""Characters of the other side's answer kept in an error message."""


def retryable_status(status: int) -> bool:
    """408, 429 and every 5xx: the other side may answer differently later."""
    return status >= 500 or status in RETRYABLE_STATUSES


def unusable_url(exc: BaseException) -> bool:
    """A URL no attempt can reach: malformed, or a scheme httpx does not speak."""
    return isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol)


def retryable_exception(exc: BaseException) -> bool:
    """Timeouts, refused or dropped connections and other transport trouble; not an unusable URL."""
    return isinstance(exc, httpx.HTTPError) and not unusable_url(exc)


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the other side asks us to wait (`Retry-After`: seconds or an HTTP date), or None."""
    raw = (headers.get("retry-after") or "").strip()
    if not raw:
        return None
    if raw.isdigit():
        return float(raw)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def excerpt(text: str, limit: int = ANSWER_LIMIT) -> str:
    """The other side's answer on one line, at most `limit` characters (cut with "…")."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
