"""Runs a baton worker: the incident workflow and the activities that touch the world."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.actions import ActionActivities
from activities.agents import AgentActivities
from activities.attestation import ProofActivities
from activities.changes import ChangeActivities
from activities.channel import ChannelActivities
from activities.context import ContextActivities
from activities.forwarding import ForwardingActivities
from activities.heartbeats import HeartbeatActivities
from activities.maintenance import MaintenanceActivities
from activities.paging import PageRequest, PagingActivities
from activities.policy import PolicyActivities
from activities.readiness import ReadinessActivities
from activities.stakeholder import StakeholderActivities
from gateway.ingest import send_alerts
from gateway.keyfiles import KeyProblem, trusted_keys
from gateway.listing import running
from gateway.logs import IncidentIds, configure_logging
from gateway.metrics import serve_metrics, temporal_telemetry
from gateway.readiness import drill_outcomes, ensure_readiness, gather_facts
from gateway.temporal import (
    TASK_QUEUE,
    CannotConnect,
    SearchAttributesMissing,
    SettingsProblem,
    connect,
    ensure_search_attributes,
    temporal_settings,
)
from incident.config import Config, load_config
from incident.config import config_path as find_config
from incident.keys import TrustedKeys
from workflows.registry import WORKFLOWS

log = structlog.get_logger("baton.worker")

STICKY_TIMEOUT = timedelta(seconds=3)
"""How long a workflow task waits for the worker that cached the workflow before any worker may take it.

Temporal's default is 10 s: after a worker dies, every incident it had cached stalls that long before another
worker replays it. A page that should go out at 02:05:00 must not go out at 02:05:10, so we wait 3 s: long
enough that a healthy but busy worker keeps its cache, short enough to be inside a page's tolerance.
"""

CACHE_ENV = "BATON_WORKFLOW_CACHE"
CACHE_DEFAULT = 1000
"""Incidents a worker keeps in memory (the SDK's default). A cached incident takes its next alert or timer without
a replay; one outside the cache is replayed from its history first. bench/README.md measures memory against it."""


def workflow_cache_size() -> int:
    """$BATON_WORKFLOW_CACHE, else the default; a value that is not a whole number >= 0 stops the worker."""
    raw = os.environ.get(CACHE_ENV, "").strip()
    if not raw:
        return CACHE_DEFAULT
    if not raw.isdigit():
        raise SettingsProblem(f"{CACHE_ENV}={raw!r}: expected a whole number of incidents (0 or more)")
    return int(raw)


def build_worker(
    client: Client,
    config: Config,
    http: httpx.AsyncClient,
    task_queue: str = TASK_QUEUE,
    capture: list[PageRequest] | None = None,
    trusted: TrustedKeys | None = None,
    config_file: Path | None = None,
    max_cached_workflows: int = CACHE_DEFAULT,
) -> Worker:
    """`capture` makes a drill's worker: pages are appended to it instead of sent, actions are described instead of
    run, and the incident's Slack channel is played in memory (`activities.channel.LocalSlack`). `config_file` is
    the file the readiness run reads again (default: the one `load_config` finds)."""
    paging = PagingActivities(config, http, capture=capture)
    delivery = ForwardingActivities(client, task_queue, send_alerts)
    changes = ChangeActivities(client, task_queue)
    context = ContextActivities(config, http)
    actions = ActionActivities(config, http, dry_run=capture is not None)
    policies = PolicyActivities(config)
    stakeholder = StakeholderActivities(config, http, dry_run=capture is not None)
    proofs = ProofActivities(trusted if trusted is not None else trusted_keys(config))
    channel = ChannelActivities(config, http, local=capture is not None)
    heartbeats = HeartbeatActivities(config, client, task_queue, send_alerts)
    maintenance = MaintenanceActivities(config, client, task_queue, send_alerts, running)
    agents = AgentActivities(client, task_queue)
    readiness = ReadinessActivities(
        config, config_file or find_config(), client, task_queue, drill_outcomes, gather_facts
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=[
            paging.lookup_targets,
            paging.send_page,
            delivery.forward,
            changes.recent_changes,
            context.gather_metrics,
            context.gather_logs,
            context.gather_deployments,
            actions.run_action,
            policies.policy_snapshot,
            proofs.verify_proof,
            channel.open,
            channel.invite,
            channel.topic,
            channel.bookmarks,
            channel.post,
            channel.archive,
            stakeholder.post_update,
            heartbeats.send,
            maintenance.hold,
            maintenance.release,
            maintenance.reopen,
            readiness.check,
            readiness.record,
            agents.record_agent_incident,
            agents.agent_levels,
        ],
        sticky_queue_schedule_to_start_timeout=STICKY_TIMEOUT,
        max_cached_workflows=max_cached_workflows,
        interceptors=[IncidentIds()],
    )


async def run_worker(config_path: str | None = None) -> None:
    json_logs = configure_logging()  # an activity's failure carries alert contents in its locals: never log them
    config = load_config(config_path)
    try:
        # Before the first client: the SDK's runtime is chosen when a client connects.
        telemetry = temporal_telemetry(json_logs=json_logs)
        metrics = serve_metrics()
    except (ValueError, OSError) as e:
        raise SystemExit(f"baton worker: {e}") from None
    try:
        trusted = trusted_keys(config)
    except KeyProblem as e:
        raise SystemExit(f"baton worker: {e}") from None
    if not len(trusted):
        log.warning(
            "this worker trusts no gateway key: every human and agent request will be refused; set "
            "identity.trusted_keys or BATON_TRUSTED_KEYS (see docs/security.md)"
        )
    try:
        settings = temporal_settings()
        cache = workflow_cache_size()
    except SettingsProblem as e:
        print(f"baton worker: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        client = await connect(settings=settings)
    except CannotConnect as e:
        raise SystemExit(f"baton worker: {e}") from None
    try:
        if added := await ensure_search_attributes(client):
            log.info("search attributes added to the namespace", added=added)
    except SearchAttributesMissing as e:
        raise SystemExit(f"baton worker: {e}") from None
    file = find_config(config_path)
    try:
        if await ensure_readiness(client, config, file, TASK_QUEUE):
            log.info("readiness run triggered: the config or its drills changed", config=str(file))
    except Exception as e:  # the schedule is a check, not a reason to stop paging
        log.warning("readiness schedule not set up", error=f"{type(e).__name__}: {str(e)[:300]}")
    async with httpx.AsyncClient() as http:
        worker = build_worker(client, config, http, trusted=trusted, config_file=file, max_cached_workflows=cache)
        log.info(
            "worker started",
            task_queue=TASK_QUEUE,
            workflow_cache=cache,
            temporal=settings.describe(),
            metrics=f"{metrics[0]}:{metrics[1]}" if metrics else None,
            temporal_metrics=telemetry,
        )
        await worker.run()


def main() -> None:
    """Run until stopped. A worker that refuses to start leaves without interpreter finalisation: Temporal's native
    runtime keeps threads that can abort a finalising interpreter, turning a one-line refusal into a core dump."""
    try:
        asyncio.run(run_worker())
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(e.code if isinstance(e.code, int) else (0 if e.code is None else 1))


if __name__ == "__main__":
    main()
