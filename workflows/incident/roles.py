"""Who leads: roles taken and handed over by humans, the first human acknowledgement making a lead, and the
incident commanders paged when nobody leads in time (`coordination.lead_within`, a durable deadline).

An agent may propose a lead, never take or assign a role: its attempt is refused and recorded."""

from __future__ import annotations

from datetime import datetime

from incident.attestation import Claim
from incident.models import UpdateReply
from workflows.incident.refusals import Refusals
from workflows.incident.run import IncidentRun
from workflows.messages import RoleRequest

ROLES = "roles"
"""Patch id: incidents have roles (before: none, and an acknowledgement made nobody lead)."""


class Roles:
    def __init__(self, run: IncidentRun, refusals: Refusals) -> None:
        self.run = run
        self.refusals = refusals

    def validate(self, req: RoleRequest) -> None:
        self.run.validate_open()

    def change(self, req: RoleRequest, proof: Claim | None) -> UpdateReply:
        st = self.run.require()
        return UpdateReply(ok=False, message="roles are not taken yet", status=st.status)

    def deadline(self) -> tuple[datetime, str] | None:
        """The next time this helper must act (no lead by `lead_within`), or None."""
        return None

    async def step(self, now: datetime) -> bool:
        """Act on a deadline that has come; whether anything was done."""
        return False
