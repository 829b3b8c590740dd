"""Connecting to Temporal the same way everywhere: address and namespace from the environment, pydantic payloads,
and the search attributes incidents set, registered the same way on every server."""

from __future__ import annotations

import os

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from workflows import search_attributes as sa

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


async def register_search_attributes(client: Client) -> None:
    """Every search attribute the incident workflow sets, each with its own type, on the client's namespace: a
    server started without them (the test server, a drill's) must have them before the first incident starts."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type.value) for k in sa.ALL},
        )
    )


def search_attribute_flags() -> list[str]:
    """The same attributes for a dev server's command line (`baton up`): it has them from its first moment."""
    flags: list[str] = []
    for key in sa.ALL:
        flags += ["--search-attribute", f"{key.name}={sa.type_name(key)}"]
    return flags
