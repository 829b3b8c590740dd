"""The messages Slack forms were opened from, for whichever intake takes the form's submission.

A modal's submission does not carry the message its button was on, and the outcome replaces that whole message: to
put its blocks back without the buttons, the intake that opened the form keeps the message in the gateways' shared
memo (`workflows.memo`), and the one that takes the submission (another replica, or the same one restarted) takes
it from there. Without it (Temporal unreachable, a message too large, kept longer than `KEPT_FOR`) the outcome line
replaces the message alone, as before.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import structlog

from gateway.client import Unavailable
from gateway.memo import SharedMemo
from gateway.slack.messages import Origin

log = structlog.get_logger("baton.slack")

KEPT_FOR = timedelta(hours=2)
"""How long a form may stay open and still put the message back whole."""
LOCAL_KEPT = 1_000
"""Messages kept in this process when there is no shared memo (a single gateway, tests)."""


class Originals:
    def __init__(self, shared: SharedMemo | None = None) -> None:
        self.shared = shared
        self._local: OrderedDict[str, Origin] = OrderedDict()

    async def remember(self, origin: Origin) -> None:
        """Keep `origin` for the form's submission; a failure is logged, never raised (the form opens anyway)."""
        if self.shared is None:
            self._local[origin.key] = origin
            self._local.move_to_end(origin.key)
            while len(self._local) > LOCAL_KEPT:
                self._local.popitem(last=False)
            return
        try:
            kept = await self.shared.put(origin.key, json.dumps(asdict(origin)), datetime.now(UTC) + KEPT_FOR)
        except Unavailable as e:
            log.warning("the message a form was opened from is not kept", error=str(e))
            return
        if not kept:
            log.warning("the message a form was opened from is too large to keep", key=origin.key)

    async def take(self, channel: str, ts: str) -> Origin | None:
        key = Origin(channel=channel, ts=ts).key
        if self.shared is None:
            return self._local.pop(key, None)
        try:
            found = await self.shared.take(key)
        except Unavailable as e:
            log.warning("the message a form was opened from cannot be read", error=str(e))
            return None
        if found is None:
            return None
        try:
            return Origin(**json.loads(found))
        except (ValueError, TypeError):
            return None
