"""What an incident knows of its Slack channel: which one, what baton set on it, how far the timeline is mirrored.

Kept in the incident's state (carried across continue-as-new, bounded), so every step of the channel work is
done once: a retried or replayed step reads here what was already done.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ChannelState(BaseModel):
    channel_id: str | None = Field(None, description="Slack's id for the channel (C…), once created or found")
    name: str | None = Field(None, description="the channel's name, e.g. inc-7k2q9m-checkout")
    created: bool = Field(False, description="baton created it (it archives only a channel it created)")
    invited: list[str] = Field(default_factory=list, description="people invited so far")
    topic: str | None = Field(None, description="the topic baton set last")
    mirrored: int = Field(0, description="timeline entries considered for mirroring so far (counting earlier runs')")
    archive_at: datetime | None = Field(None, description="when the channel is to be archived")
    archived: bool = False
