"""The policy in the worker's config now, for an incident that opens without the intake (the next incident a
resolved one opens on its key): the snapshot the intake would have taken."""

from __future__ import annotations

from temporalio import activity

from incident.config import Config
from incident.state import IncidentPolicy


class PolicyActivities:
    """Holds the worker's config; each method is an activity."""

    def __init__(self, config: Config):
        self.config = config

    @activity.defn(name="policy_snapshot")
    async def policy_snapshot(self, service: str) -> IncidentPolicy | None:
        """The service's policy as the config has it now; None when the config no longer has the service."""
        if service not in self.config.services:
            return None
        return IncidentPolicy.snapshot(self.config, service)
