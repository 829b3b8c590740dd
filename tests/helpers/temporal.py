"""Temporal for tests: the servers' set-up, a worker harness, and the intake on a real port in front of it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from gateway.attesting import Signer
from gateway.client import Incidents
from incident.attestation import Method
from incident.config import Config
from incident.keys import SigningKey, TrustedKeys
from tests.helpers.http import serving
from worker import build_worker
from workflows.messages import ActorRequest


def dev_address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


@dataclass
class Harness:
    env: WorkflowEnvironment
    config: Config
    incidents: Incidents
    task_queue: str
    worker: Worker
    key: str = ""

    @property
    def client(self) -> Client:
        return self.env.client


GATEWAY_KEY = SigningKey.generate()
"""The tests' gateway key: a harness's façade signs with it, and its worker trusts it."""


TRUSTED_ENV = {"BATON_TRUSTED_KEYS": GATEWAY_KEY.public_text()}
"""For a worker run as its own process: it trusts the tests' gateway key."""


def trusted() -> TrustedKeys:
    return TrustedKeys([GATEWAY_KEY.public_text()])


def gateway(client: Client, task_queue: str) -> Incidents:
    """The façade as the gateway holds it: its requests carry proofs a test worker trusts. Its humans act as from
    Slack (present, as a judgment call needs them: `boundaries.step_up`), so a test about something else decides
    the way a responder really does; a test about step-up acts with `.acting(Method.TOKEN)` or a code's step."""
    return Incidents(client, task_queue=task_queue, signer=Signer(GATEWAY_KEY)).acting(Method.SLACK)


R = TypeVar("R", bound=ActorRequest)


async def proven(h: Harness, wid: str, update: str, req: R, method: Method = Method.SLACK) -> R:
    """`req` with the gateway's proof for the incident's current run, for a test that sends it itself."""
    run_id = (await h.client.get_workflow_handle(wid).describe()).run_id or ""
    return Signer(GATEWAY_KEY).attach(req, update, wid, run_id, method)  # type: ignore[return-value]


async def harness(env: WorkflowEnvironment, config: Config, http: httpx.AsyncClient) -> Harness:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    return Harness(
        env=env,
        config=config,
        incidents=gateway(env.client, queue),
        task_queue=queue,
        worker=build_worker(env.client, config, http, task_queue=queue, trusted=trusted()),
    )


@asynccontextmanager
async def intake_stack(env: WorkflowEnvironment, config: Config) -> AsyncIterator[tuple[str, Harness]]:
    """A worker and the HTTP intake on a real loopback port, against `env`: yields (base URL, harness)."""
    from gateway.intake import create_app

    async with httpx.AsyncClient() as http:
        h = await harness(env, config, http)
        async with h.worker, serving(create_app(h.config, h.incidents)) as url:
            yield url, h
