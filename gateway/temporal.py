"""Connecting to Temporal the same way everywhere: address and namespace from the environment, pydantic payloads,
and the search attributes incidents set, registered the same way on every server."""

from __future__ import annotations

import os

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

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


class SearchAttributesMissing(Exception):
    """The namespace lacks search attributes incidents set, and they could not be added: an incident setting one
    would fail its workflow task on every retry, so a worker does not start."""


async def ensure_search_attributes(client: Client) -> list[str]:
    """Add the search attributes the namespace lacks (a server set up for an earlier baton has fewer); the names
    added. Refuses a namespace where one has another type, or where they cannot be added (no operator rights, as
    on Temporal Cloud), naming the command that adds them."""
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    have = dict(listed.custom_attributes)
    wrong = [k for k in sa.ALL if k.name in have and have[k.name] != k.indexed_value_type.value]
    if wrong:
        names = ", ".join(f"{k.name} (should be {sa.type_name(k)})" for k in wrong)
        raise SearchAttributesMissing(f"namespace {client.namespace} has search attributes of another type: {names}")
    missing = [k for k in sa.ALL if k.name not in have]
    if not missing:
        return []
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type.value) for k in missing},
            )
        )
    except RPCError as e:
        if "already" not in e.message.lower():  # another worker added them at the same moment
            add = "; ".join(
                f"temporal operator search-attribute create --namespace {client.namespace} --name {k.name} "
                f"--type {sa.type_name(k)}"
                for k in missing
            )
            raise SearchAttributesMissing(
                f"namespace {client.namespace} lacks search attributes {', '.join(k.name for k in missing)} and "
                f"they could not be added ({e.message}); add them: {add}"
            ) from None
    return [k.name for k in missing]


def search_attribute_flags() -> list[str]:
    """The same attributes for a dev server's command line (`baton up`): it has them from its first moment."""
    flags: list[str] = []
    for key in sa.ALL:
        flags += ["--search-attribute", f"{key.name}={sa.type_name(key)}"]
    return flags
