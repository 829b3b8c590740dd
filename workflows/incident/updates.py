"""Stakeholder updates: due at the cadence for the severity, drafted from the timeline since the last one, asked
of the lead (or `comms`), reminded, then escalated like an approval when nobody sends it; sent to the internal
audiences (machine work where the boundaries allow) or, as customer communication, only by a human decision."""

from __future__ import annotations

from datetime import datetime

from incident.attestation import Claim
from incident.models import UpdateReply
from workflows.incident.refusals import Refusals
from workflows.incident.run import IncidentRun
from workflows.messages import StakeholderUpdateRequest

UPDATES = "stakeholder-updates"
"""Patch id: stakeholder updates fall due (before: none)."""


class StakeholderUpdates:
    def __init__(self, run: IncidentRun, refusals: Refusals) -> None:
        self.run = run
        self.refusals = refusals

    def validate(self, req: StakeholderUpdateRequest) -> None:
        self.run.validate_open()

    def send(self, req: StakeholderUpdateRequest, proof: Claim | None) -> UpdateReply:
        st = self.run.require()
        return UpdateReply(ok=False, message="no update is due", status=st.status)

    def deadline(self) -> tuple[datetime, str] | None:
        """The next time this helper must act (an update due, a reminder, an escalation), or None."""
        return None

    async def step(self, now: datetime) -> bool:
        """Act on a deadline that has come; whether anything was done."""
        return False
