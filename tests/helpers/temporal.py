"""Temporal for tests: the servers' set-up, a worker harness, and the intake on a real port in front of it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from gateway.client import Incidents
from incident.config import Config
from tests.helpers.http import serving
from worker import build_worker


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


async def harness(env: WorkflowEnvironment, config: Config, http: httpx.AsyncClient) -> Harness:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    return Harness(
        env=env,
        config=config,
        incidents=Incidents(env.client, task_queue=queue),
        task_queue=queue,
        worker=build_worker(env.client, config, http, task_queue=queue),
    )


@asynccontextmanager
async def intake_stack(env: WorkflowEnvironment, config: Config) -> AsyncIterator[tuple[str, Harness]]:
    """A worker and the HTTP intake on a real loopback port, against `env`: yields (base URL, harness)."""
    from gateway.intake import create_app

    async with httpx.AsyncClient() as http:
        h = await harness(env, config, http)
        async with h.worker, serving(create_app(h.config, h.incidents)) as url:
            yield url, h
