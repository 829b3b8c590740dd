"""Stakeholder updates: when the next one is due, the draft waiting to be sent, and what was sent.

Pure data and pure functions: the workflow keeps an `UpdatesState` in the incident's state and asks here what is
due; the draft is written from the timeline since the last update.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class UpdatesState(BaseModel):
    due_at: datetime | None = Field(None, description="when the next update is due")
    sent: int = Field(0, description="updates sent so far")
    last_sent_at: datetime | None = None
    draft: str | None = Field(None, description="the draft waiting to be sent, once the update is due")
