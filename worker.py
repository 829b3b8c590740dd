"""Runs a baton worker: the incident workflow and the activities that touch the world."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import httpx
import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.actions import ActionActivities
from activities.attestation import ProofActivities
from activities.changes import ChangeActivities
from activities.context import ContextActivities
from activities.forwarding import ForwardingActivities
from activities.paging import PageRequest, PagingActivities
from activities.policy import PolicyActivities
from gateway.ingest import send_alerts
from gateway.keyfiles import KeyProblem, trusted_keys
from gateway.logs import quiet_tracebacks
from gateway.temporal import TASK_QUEUE, SearchAttributesMissing, connect, ensure_search_attributes
from incident.config import Config, load_config
from incident.keys import TrustedKeys
from workflows.agent import AgentWorkflow
from workflows.changelog import ChangeLogWorkflow
from workflows.incident import IncidentWorkflow
from workflows.intake_buffer import IntakeBufferWorkflow
from workflows.memo import MemoWorkflow

log = structlog.get_logger("baton.worker")

STICKY_TIMEOUT = timedelta(seconds=3)
"""How long a workflow task waits for the worker that cached the workflow before any worker may take it.

Temporal's default is 10 s: after a worker dies, every incident it had cached stalls that long before another
worker replays it. A page that should go out at 02:05:00 must not go out at 02:05:10, so we wait 3 s: long
enough that a healthy but busy worker keeps its cache, short enough to be inside a page's tolerance.
"""


def build_worker(
    client: Client,
    config: Config,
    http: httpx.AsyncClient,
    task_queue: str = TASK_QUEUE,
    capture: list[PageRequest] | None = None,
    trusted: TrustedKeys | None = None,
) -> Worker:
    """`capture` makes a drill's worker: pages are appended to it instead of sent, and actions are described
    instead of run."""
    paging = PagingActivities(config, http, capture=capture)
    delivery = ForwardingActivities(client, task_queue, send_alerts)
    changes = ChangeActivities(client, task_queue)
    context = ContextActivities(config, http)
    actions = ActionActivities(config, http, dry_run=capture is not None)
    policies = PolicyActivities(config)
    proofs = ProofActivities(trusted if trusted is not None else trusted_keys(config))
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[IncidentWorkflow, IntakeBufferWorkflow, ChangeLogWorkflow, AgentWorkflow, MemoWorkflow],
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
        ],
        sticky_queue_schedule_to_start_timeout=STICKY_TIMEOUT,
    )


async def run_worker(config_path: str | None = None) -> None:
    quiet_tracebacks()  # an activity's failure carries alert contents in its locals: never log them
    config = load_config(config_path)
    try:
        trusted = trusted_keys(config)
    except KeyProblem as e:
        raise SystemExit(f"baton worker: {e}") from None
    if not len(trusted):
        log.warning(
            "this worker trusts no gateway key: every human and agent request will be refused; set "
            "identity.trusted_keys or BATON_TRUSTED_KEYS (see docs/security.md)"
        )
    client = await connect()
    try:
        if added := await ensure_search_attributes(client):
            log.info("search attributes added to the namespace", added=added)
    except SearchAttributesMissing as e:
        raise SystemExit(f"baton worker: {e}") from None
    async with httpx.AsyncClient() as http:
        worker = build_worker(client, config, http, trusted=trusted)
        log.info("worker started", task_queue=TASK_QUEUE, temporal=os.environ.get("TEMPORAL_ADDRESS", "localhost:7233"))
        await worker.run()


def main() -> None:
    asyncio.run(run_worker())


if __name__ == "__main__":
    main()
