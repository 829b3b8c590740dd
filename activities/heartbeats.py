"""Delivering a heartbeat monitor's alert (a miss, or the ping that recovers it) to the service's incident, through
the one signal-with-start every alert takes (`gateway.ingest.send_alerts`, handed in by the worker)."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client

from activities.forwarding import SendAlerts
from incident.config import Config
from incident.ids import workflow_id_for
from incident.models import Alert
from incident.state import IncidentPolicy


class HeartbeatActivities:
    def __init__(self, config: Config, client: Client, task_queue: str, send_alerts: SendAlerts):
        self.config = config
        self.client = client
        self.task_queue = task_queue
        self.send_alerts = send_alerts

    @activity.defn(name="heartbeat_alert")
    async def send(self, alert: Alert) -> bool:
        """Open or join the incident for the monitor (a trigger), or recover it (a resolve: False when no incident
        is open). The service's policy as the worker's config has it now; a service the config no longer has
        sends the alert to the default service instead, so a miss is never lost."""
        if alert.service not in self.config.services:
            alert = alert.model_copy(update={"service": self.config.default_service})
        policy = IncidentPolicy.snapshot(self.config, alert.service)
        wid = workflow_id_for(alert.dedup_scope, alert.dedup_key)
        return await self.send_alerts(self.client, self.task_queue, wid, [alert], policy)
