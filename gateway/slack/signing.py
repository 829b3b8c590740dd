"""Verifying requests from Slack, as Slack documents it: HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{raw body}`
with the app's signing secret, compared in constant time with `X-Slack-Signature`; a timestamp more than five
minutes away from now is refused, and so is a request whose signature was already seen (a replay)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Mapping

WINDOW = 300
"""Seconds a request's timestamp may be away from now; Slack's documented five minutes."""
REPLAY_CACHE_SIZE = 10_000


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v0=<hex>`: what Slack puts in `X-Slack-Signature` for this timestamp and raw body."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class ReplayCache:
    """Signatures seen within the window, so the same signed request is taken once.

    In-process and bounded: the first, free check. Every intake also asks the gateways' shared memo
    (`gateway.slack.routes.SlackGate`), so a replay sent to another intake within the five minutes is refused
    there too. When more than `size` requests arrive within one window, the oldest are forgotten first.
    """

    def __init__(self, window: float = WINDOW, size: int = REPLAY_CACHE_SIZE):
        self.window, self.size = window, size
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, sig: str, timestamp: float, now: float) -> bool:
        """Record `sig`; False when it was already seen and its timestamp is still within the window."""
        while self._seen:
            oldest, expires = next(iter(self._seen.items()))
            if expires >= now and len(self._seen) < self.size:
                break
            del self._seen[oldest]
        if sig in self._seen:
            return False
        self._seen[sig] = timestamp + self.window
        return True


class Unverified(Exception):
    """Not a request from Slack, or not a fresh one: answered 401."""


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, replays: ReplayCache, now: float | None = None
) -> None:
    """Raise Unverified unless `body` was signed by Slack with `secret` within five minutes of `now` and not seen."""
    now = time.time() if now is None else now
    stamp, given = headers.get("x-slack-request-timestamp", ""), headers.get("x-slack-signature", "")
    if not stamp or not given:
        raise Unverified("send X-Slack-Request-Timestamp and X-Slack-Signature (requests are signed by Slack)")
    try:
        ts = int(stamp)
    except ValueError:
        raise Unverified("X-Slack-Request-Timestamp is not a Unix time in seconds") from None
    if abs(now - ts) > WINDOW:
        raise Unverified("the request timestamp is more than five minutes away from now")
    if not hmac.compare_digest(given.encode(), signature(secret, stamp, body).encode()):
        raise Unverified("the signature does not match (check integrations.slack.signing_secret)")
    if not replays.first_time(given, ts, now):
        raise Unverified("this request was already received (a replay)")
