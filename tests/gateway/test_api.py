"""The gateway's incidents API on a real port against the dev server: the token decides who acts, a wrong,
missing or foreign token changes nothing, agents never decide, and every answer is JSON that names the problem."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from incident.ids import workflow_id_for
from incident.models import Actor
from incident.state import IncidentPolicy, IncidentState
from tests.helpers.config import PEOPLE_TOKENS, TOKEN, alert, make_config
from tests.helpers.http import Sink
from tests.helpers.temporal import Harness, intake_stack
from tests.helpers.wait import until

TRIAGE = "triage-token-0123456789"
EXTRA = f"agents:\n  triage: {{token: {TRIAGE}}}\n"
ALICE, BOB = PEOPLE_TOKENS["alice"], PEOPLE_TOKENS["bob"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, Harness]]:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    async with (
        intake_stack(dev_env, make_config(sink.url, extra=EXTRA)) as (url, h),
        httpx.AsyncClient(base_url=url, timeout=40) as http,
    ):
        yield http, h


async def open_incident(h: Harness) -> str:
    key = f"api-{uuid.uuid4().hex[:8]}"
    await h.incidents.ingest(alert(key), IncidentPolicy.snapshot(h.config, "checkout"), "api")
    wid = workflow_id_for("api", key)
    await until(lambda: h.incidents.state(wid), lambda st: st.paged == ["alice"])
    return (await h.incidents.state(wid)).incident_id


async def pending_rollback(h: Harness) -> str:
    iid = await open_incident(h)
    asked = await h.incidents.request(iid, Actor.agent("triage"), "rollback", "v42 is the only change")
    assert asked.approval_id == "A1"
    return iid


def error(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.text)
    body: dict[str, Any] = resp.json()
    assert set(body) >= {"error", "message"} and body["message"]
    return body


async def test_only_the_right_persons_token_decides_an_approval(api: tuple[httpx.AsyncClient, Harness]) -> None:
    http, h = api
    iid = await pending_rollback(h)
    approve = f"/v1/incidents/{iid}/approvals/A1/approve"

    assert "Authorization: Bearer" in error(await http.post(approve), 401)["message"]
    assert error(await http.post(approve, headers=auth("guess")), 401)["error"] == "unauthorized"
    foreign = error(await http.post(approve, headers=auth(TOKEN)), 403)
    assert "the events integration's token" in foreign["message"]
    by_agent = error(await http.post(approve, headers=auth(TRIAGE)), 403)
    assert "approve is a human decision: agent:triage may not approve" in by_agent["message"]
    not_bobs = error(await http.post(approve, headers=auth(BOB)), 409)
    assert "bob is not among those who may decide rollback" in not_bobs["message"]
    smuggled = error(await http.post(approve, json={"actor": "human:alice"}, headers=auth(BOB)), 422)
    assert smuggled["error"] == "invalid_request"
    assert smuggled["message"].startswith("actor: ")
    unread = await http.post(approve, content=b"{not json", headers={"Content-Type": "application/json"})
    assert error(unread, 401)["error"] == "unauthorized", "the token is checked before the body"

    st = await h.incidents.state(iid)
    assert st.approval("A1").status.value == "pending"  # type: ignore[union-attr]
    assert ("approve A1", "agent:triage") in {(r.action, r.actor) for r in st.refusals}, "the attempt is recorded"

    done = await http.post(approve, headers=auth(ALICE))
    assert done.status_code == 200 and done.json()["ok"] and "human:alice approved A1" in done.json()["message"]
    st = await h.incidents.state(iid)
    assert st.approval("A1").decided_by == "human:alice"  # type: ignore[union-attr]
    assert error(await http.post(approve, headers=auth(ALICE)), 409)["error"] == "refused"


async def test_every_action_acts_as_the_tokens_owner(api: tuple[httpx.AsyncClient, Harness]) -> None:
    http, h = api
    iid = await open_incident(h)
    base = f"/v1/incidents/{iid.lower()}"
    assert (await http.post(f"{base}/notes", json={"text": "looking at the deploy"}, headers=auth(BOB))).is_success
    sev = await http.post(f"{base}/severity", json={"severity": "SEV1", "reason": "all EU"}, headers=auth(ALICE))
    assert sev.json()["message"] == f"{iid} is SEV1"
    paged = await http.post(f"{base}/page", json={"target": "dave", "reason": "the lead"}, headers=auth(ALICE))
    assert paged.json()["message"] == "paging user:dave"
    proposed = await http.post(f"{base}/resolve", json={"summary": "fixed"}, headers=auth(TRIAGE))
    assert proposed.json()["approval_id"] == "A1", "an agent's resolve waits for a human"
    asked = {"action": "rollback", "rationale": "v42", "params": {"version": "v41"}, "request_id": "rb-1"}
    rollback = await http.post(f"{base}/requests", json=asked, headers=auth(TRIAGE))
    assert rollback.json()["approval_id"] == "A2"
    never = error(
        await http.post(f"{base}/requests", json={"action": "drop_db", "rationale": "x"}, headers=auth(TRIAGE)), 409
    )
    assert never["verdict"] == "undefined"
    assert (await http.post(f"{base}/ack", headers=auth(ALICE))).json()["status"] == "acknowledged"
    resolved = await http.post(f"{base}/resolve", json={"summary": "rolled back"}, headers=auth(ALICE))
    assert resolved.json()["message"] == f"{iid} resolved by human:alice"

    st = await h.incidents.state(iid)
    by = {(e.kind, e.actor) for e in st.timeline}
    assert {("note", "human:bob"), ("severity", "human:alice"), ("resolved", "human:alice")} <= by, by
    assert [a.requested_by for a in st.approvals] == ["agent:triage", "agent:triage"]


async def test_reads_need_a_token_and_answer_what_the_facade_does(api: tuple[httpx.AsyncClient, Harness]) -> None:
    http, h = api
    iid = await open_incident(h)
    assert error(await http.get(f"/v1/incidents/{iid}"), 401)
    me = await http.get("/v1/whoami", headers=auth(TRIAGE))
    assert me.json() == {"actor": "agent:triage", "kind": "agent", "name": "triage"}
    shown = IncidentState.model_validate((await http.get(f"/v1/incidents/{iid}", headers=auth(BOB))).json())
    assert shown == await h.incidents.state(iid)
    by_wid = await http.get(f"/v1/incidents/{shown.workflow_id}/run", headers=auth(BOB))
    assert by_wid.json()["incident_id"] == iid and by_wid.json()["open"]
    listed = await http.get("/v1/incidents", params={"status": "triggered"}, headers=auth(BOB))
    assert iid in [r["incident_id"] for r in listed.json()]
    policy = await http.get(f"/v1/incidents/{iid}/policy", headers=auth(BOB))
    assert IncidentPolicy.model_validate(policy.json()) == await h.incidents.policy(iid)
    draft = await http.get(f"/v1/incidents/{iid}/postmortem", headers=auth(BOB))
    assert draft.json()["markdown"].startswith(f"# Postmortem draft: {iid}")
    assert (await http.get(f"/v1/incidents/{iid}/timeline", headers=auth(BOB))).json()[0]["kind"]
    assert (await http.get("/v1/services/checkout/changes", headers=auth(TRIAGE))).json() == []
    assert isinstance((await http.get("/v1/boundaries/refusals", headers=auth(BOB))).json(), list)
    assert (await http.get("/v1/boundaries/shadow", headers=auth(BOB))).json() == [], "no shadow policy: none"

    assert (
        "no incident INC-ZZZZZZ" in error(await http.get("/v1/incidents/INC-ZZZZZZ", headers=auth(BOB)), 404)["message"]
    )
    assert error(await http.get("/v1/incidents", params={"status": "asleep"}, headers=auth(BOB)), 422)
    assert error(await http.get("/v1/services/nope/changes", headers=auth(BOB)), 404)


async def test_agents_open_incidents_people_do_not(api: tuple[httpx.AsyncClient, Harness]) -> None:
    http, h = api
    body = {"service": "checkout", "summary": "p99 over 4s", "idempotency_key": f"k-{uuid.uuid4().hex[:8]}"}
    assert "for agents" in error(await http.post("/v1/incidents", json=body, headers=auth(ALICE)), 403)["message"]
    unknown = error(await http.post("/v1/incidents", json=body | {"service": "nope"}, headers=auth(TRIAGE)), 422)
    assert unknown["message"] == "service: unknown service 'nope' (known: checkout)"
    first = await http.post("/v1/incidents", json=body, headers=auth(TRIAGE))
    again = await http.post("/v1/incidents", json=body, headers=auth(TRIAGE))
    assert first.json()["opened"] and not again.json()["opened"]
    assert first.json()["incident_id"] == again.json()["incident_id"]
    assert first.json()["workflow_id"] == workflow_id_for("mcp:triage", body["idempotency_key"]), "its own scope"
    assert (await h.incidents.state(first.json()["workflow_id"])).service == "checkout"


async def test_the_openapi_documents_the_incidents_api(api: tuple[httpx.AsyncClient, Harness]) -> None:
    http, _ = api
    spec = (await http.get("/openapi.json")).json()
    approve = spec["paths"]["/v1/incidents/{ref}/approvals/{approval_id}/approve"]["post"]
    assert {"200", "401", "403", "404", "409", "422", "503"} <= set(approve["responses"])
    for path in (
        "/v1/incidents/{ref}",
        "/v1/incidents",
        "/v1/whoami",
        "/v1/boundaries/refusals",
        "/v1/boundaries/shadow",
    ):
        assert {"401", "403"} <= set(spec["paths"][path]["get"]["responses"]), path
    assert "actor" not in str(spec["components"]["schemas"]["ApproveBody"])
