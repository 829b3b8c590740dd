"""The incident's Slack channel: created (or found) on open, people invited as they are paged or lead, the topic
kept current, bookmarks, the summary, an announcement, what matters mirrored from the timeline, and the channel
archived a while after the resolve.

All of it runs beside the main loop: a Slack that is slow or down never delays a page or a deadline."""

from __future__ import annotations

from datetime import datetime

from workflows.incident.run import IncidentRun

CHANNEL = "incident-channel"
"""Patch id: the channel work (before: none)."""


class Channel:
    def __init__(self, run: IncidentRun) -> None:
        self.run = run

    def deadline(self) -> tuple[datetime, str] | None:
        """The next time this helper must act (the channel's archive), or None."""
        return None

    async def step(self, now: datetime) -> bool:
        """Act on a deadline that has come, or start channel work that is due; whether anything was done."""
        return False
