"""A worker meeting a namespace set up for an earlier baton adds the search attributes it lacks before any incident
sets one: an upsert of an unknown attribute would fail that incident's workflow task on every retry."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from gateway.temporal import SearchAttributesMissing, connect, ensure_search_attributes
from tests.helpers.processes import SEARCH_ATTRIBUTES, DevServer
from tests.helpers.wait import until
from workflows import search_attributes as sa

pytestmark = pytest.mark.integration


async def test_missing_search_attributes_are_added_once(tmp_path: Path) -> None:
    assert sa.INCIDENT_LEAD.name not in SEARCH_ATTRIBUTES  # a server as an earlier baton set it up
    server = DevServer(tmp_path / "temporal.db", tmp_path / "temporal.log")
    server.start()
    try:
        client = await until(lambda: connected(server.address), timeout=30)
        missing = [k.name for k in sa.ALL if k.name not in SEARCH_ATTRIBUTES]
        assert await ensure_search_attributes(client) == missing
        assert await ensure_search_attributes(client) == []
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        for key in sa.ALL:
            assert listed.custom_attributes[key.name] == key.indexed_value_type.value
    finally:
        assert server.child is not None
        server.child.terminate()


async def test_a_search_attribute_of_another_type_is_refused_by_name(tmp_path: Path) -> None:
    attributes = SEARCH_ATTRIBUTES | {sa.INCIDENT_LEAD.name: "Text"}
    server = DevServer(tmp_path / "temporal.db", tmp_path / "temporal.log", search_attributes=attributes)
    server.start()
    try:
        client = await until(lambda: connected(server.address), timeout=30)
        with pytest.raises(SearchAttributesMissing, match="IncidentLead \\(should be Keyword\\)"):
            await ensure_search_attributes(client)
    finally:
        assert server.child is not None
        server.child.terminate()


async def connected(address: str) -> Client | None:
    try:
        return await connect(address)
    except RuntimeError:
        return None
