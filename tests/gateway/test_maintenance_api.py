"""`/v1/maintenance` on a real port against the dev server: a person's token starts, reads and ends a window; bad
input is a 4xx whose JSON names the problem; an agent's request is decided by the boundaries (default: approval)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.helpers.config import PEOPLE_TOKENS, TOKEN, make_config
from tests.helpers.http import Sink
from tests.helpers.temporal import intake_stack

TRIAGE = "triage-token-0123456789"
EXTRA = f"agents:\n  triage: {{token: {TRIAGE}}}\n"
ALICE = {"Authorization": f"Bearer {PEOPLE_TOKENS['alice']}"}
AGENT = {"Authorization": f"Bearer {TRIAGE}"}


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    async with (
        intake_stack(dev_env, make_config(sink.url, extra=EXTRA)) as (url, _),
        httpx.AsyncClient(base_url=url, timeout=40) as http,
    ):
        yield http


def error(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.text)
    body: dict[str, Any] = resp.json()
    assert body["message"]
    return body


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ({"target": "nosuch", "for": "1h"}, "unknown_service", "no service 'nosuch'"),
        ({"target": "checkout", "for": "0s"}, "invalid_window", "positive"),
        ({"target": "checkout", "for": "8d"}, "invalid_window", "at most 7d"),
        ({"target": "checkout", "for": "soon"}, "invalid_duration", "soon"),
        ({"target": "checkout", "for": "1h", "start": "2099-01-01T00:00:00Z"}, "invalid_window", "30d ahead"),
        ({"target": "checkout a", "for": "1h"}, "invalid_matcher", "two services"),
        ({"target": "9bad=x", "for": "1h"}, "invalid_matcher", "label name"),
        ({"target": "", "for": "1h"}, "invalid_matcher", "a service or at least one label"),
    ],
)
async def test_bad_input_is_a_4xx_naming_the_problem(
    api: httpx.AsyncClient, body: dict[str, Any], code: str, says: str
) -> None:
    got = error(await api.post("/v1/maintenance", json=body, headers=ALICE), 422)
    assert got["error"] == code and says in got["message"], got


async def test_bounds_and_tokens(api: httpx.AsyncClient) -> None:
    long = {"target": "checkout", "for": "1h", "message": "x" * 501}
    assert (await api.post("/v1/maintenance", json=long, headers=ALICE)).status_code == 422
    assert error(await api.post("/v1/maintenance", json={"target": "checkout", "for": "1h"}), 401)["error"]
    assert error(await api.get("/v1/maintenance/nope", headers=ALICE), 422)["error"] == "invalid_window_id"
    assert error(await api.get("/v1/maintenance/MW-000000", headers=ALICE), 404)["error"] == "not_found"


async def test_a_person_starts_reads_and_ends_a_window_an_agent_only_asks(api: httpx.AsyncClient) -> None:
    refused = error(await api.post("/v1/maintenance", json={"target": "checkout", "for": "1h"}, headers=AGENT), 403)
    assert refused["rule"] == "boundaries.agent.approval" and refused["verdict"] == "approval"
    assert "ask a person" in refused["message"]

    made = await api.post(
        "/v1/maintenance", json={"target": "checkout env=prod", "for": "90m", "message": "db"}, headers=ALICE
    )
    assert made.status_code == 201, made.text
    window = made.json()
    assert window["service"] == "checkout" and window["labels"] == {"env": "prod"} and window["status"] == "open"
    listed = (await api.get("/v1/maintenance", headers=ALICE)).json()
    assert window["id"] in [w["id"] for w in listed]
    assert error(await api.delete(f"/v1/maintenance/{window['id']}", headers=AGENT), 403)["error"] == "forbidden"
    ended = await api.delete(f"/v1/maintenance/{window['id']}", headers=ALICE)
    assert ended.status_code == 200 and ended.json()["status"] == "ended"
    again = await api.delete(f"/v1/maintenance/{window['id']}", headers=ALICE)
    assert again.status_code == 200 and again.json()["status"] == "ended"
