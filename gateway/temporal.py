"""Connecting to Temporal the same way everywhere: address and namespace from the environment, pydantic payloads."""

from __future__ import annotations

import os

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

TASK_QUEUE = os.environ.get("BATON_TASK_QUEUE", "baton")


def temporal_address() -> str:
    return os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")


def temporal_namespace() -> str:
    return os.environ.get("TEMPORAL_NAMESPACE", "default")


async def connect(address: str | None = None, namespace: str | None = None, lazy: bool = False) -> Client:
    """A client with the pydantic converter. `lazy` defers the connection to the first call (the intake starts
    even while Temporal is down, and answers 503 until it is back)."""
    return await Client.connect(
        address or temporal_address(),
        namespace=namespace or temporal_namespace(),
        data_converter=pydantic_data_converter,
        lazy=lazy,
    )
