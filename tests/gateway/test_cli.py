"""The `baton` command against a real dev server, run as a user runs it: output, --json shapes, exit codes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.client import Refused
from gateway.intake import create_app
from incident.attestation import Method
from incident.ids import workflow_id_for
from incident.models import Actor
from incident.state import IncidentPolicy
from tests.helpers.config import BASE_CONFIG, PEOPLE_TOKENS, alert, make_config
from tests.helpers.http import Sink, free_port, serving
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until

BATON = str(Path(sys.executable).parent / "baton")
ALICE, BOB = PEOPLE_TOKENS["alice"], PEOPLE_TOKENS["bob"]
TRIAGE = "triage-token-0123456789"
AGENTS = f"agents:\n  triage: {{token: {TRIAGE}}}\n"
MINE = object()
"""The token the CLI runs with unless a call says otherwise: alice's."""

SECRET = pyotp.random_base32()
"""alice's authenticator: the gateway's config holds its secret (`people.alice.totp`)."""


class Codes:
    """Codes from alice's authenticator app, each from a later time step than the one before (a code counts
    once), and all within the steps the gateway accepts around now."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> str:
        self.last = max(int(time.time()) // 30, self.last + 1)
        return pyotp.TOTP(SECRET).generate_otp(self.last)


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Cli:
    env: dict[str, str]

    async def __call__(self, *args: str, user: str | None = None, token: str | object | None = MINE) -> Run:
        """`baton ARGS` as the person whose `token` it is (alice's by default; None: no token at all)."""
        env = dict(self.env)
        env.pop("BATON_USER", None)
        if user:
            env["BATON_USER"] = user
        if token is None:
            env.pop("BATON_TOKEN", None)
        elif isinstance(token, str):
            env["BATON_TOKEN"] = token
        proc = await asyncio.create_subprocess_exec(
            BATON, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        return Run(proc.returncode or 0, out.decode(), err.decode())


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, sink: Sink, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Cli, Harness]]:
    """A worker and the gateway on a loopback port; the CLI reaches incidents only through the gateway: its
    environment has neither Temporal's address nor the gateway's key. Parametrized (indirect): config to add."""
    config_file = tmp_path / "baton.yaml"
    with_code = BASE_CONFIG.replace("alice: {name: Alice,", f"alice: {{name: Alice, totp: {SECRET},")
    extra = AGENTS + getattr(request, "param", "")
    config_file.write_text(with_code.replace("SINK", sink.url) + extra)
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, make_config(sink.url, extra=extra, base=with_code), http)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "BATON_"))} | {
            "BATON_CONFIG": str(config_file),
            "COLUMNS": "200",
            "BATON_TOKEN": ALICE,
        }
        gateway = h.incidents.acting(Method.TOKEN)  # as the real gateway: a token alone proves a token, no more
        async with h.worker, serving(create_app(h.config, gateway)) as url:
            yield Cli(env | {"BATON_URL": url}), h


async def open_incident(h: Harness) -> str:
    key = f"cli-{uuid.uuid4().hex[:8]}"
    await h.incidents.ingest(
        alert(key, summary=f"checkout errors {key}"), IncidentPolicy.snapshot(h.config, "checkout"), "cli"
    )
    wid = workflow_id_for("cli", key)
    rows = await until(lambda: _listed(h, wid))
    return rows[0].incident_id


async def _listed(h: Harness, wid: str) -> list:
    return [r for r in await h.incidents.search() if r.workflow_id == wid]


async def test_a_whole_incident_from_the_command_line(stack: tuple[Cli, Harness]) -> None:
    baton, h = stack
    iid = await open_incident(h)

    listed = await baton("incidents", "--json")
    assert listed.code == 0
    row = next(r for r in listed.json if r["id"] == iid)
    assert row["status"] == "triggered" and row["severity"] == "SEV2" and row["service"] == "checkout"
    assert set(row) == {
        *("id", "status", "severity", "service", "opened_at", "closed_at", "workflow_id", "run_id", "lead")
    }

    table = await baton("incidents", "--status", "triggered")
    assert table.code == 0 and iid in table.out and "triggered" in table.out

    shown = await baton("show", iid.lower(), "--json")
    assert shown.code == 0 and shown.json["incident_id"] == iid and shown.json["status"] == "triggered"
    assert shown.json["paged"] == ["alice"]

    codes = Codes()
    token_only = await baton("severity", iid, "SEV1", "-m", "all EU customers", "--as", "alice")
    assert token_only.code == 1 and "set it with --code from your authenticator app, or from Slack" in token_only.err
    sev = await baton("severity", iid, "SEV1", "-m", "all EU customers", "--as", "alice", "--code", codes.next())
    assert sev.code == 0 and f"{iid} is SEV1" in sev.out
    shown = await baton("show", iid, "--json")
    assert shown.json["severity"] == "SEV1" and shown.json["severity_confirmed_by"] == "human:alice"
    assert (await baton("severity", iid, "SEV9", "--as", "alice")).code == 2

    acked = await baton("ack", iid, "--as", "alice", "--json")
    assert acked.code == 0 and acked.json == {
        "ok": True,
        "message": f"{iid} acknowledged by human:alice; alice leads",
        "rule": None,
        "status": "acknowledged",
        "verdict": None,
        "approval_id": None,
        "severity": "SEV1",
    }
    noted = await baton("note", iid, "rolled back v2.41", token=BOB)
    assert noted.code == 0 and "note added" in noted.out

    await until(lambda: _status(h, iid, "acknowledged"))
    assert iid in (await baton("incidents", "--status", "acknowledged")).out

    resolved = await baton("resolve", iid, "-m", "rollback fixed it", "--as", "alice", "--code", codes.next())
    assert resolved.code == 0 and "resolved by human:alice" in resolved.out

    human = await baton("show", iid)
    assert human.code == 0
    for text in ("resolved", "rolled back v2.41", "human:bob", "rollback fixed it", "paged alice"):
        assert text in human.out, text

    again = await baton("resolve", iid, "--as", "alice")
    assert again.code == 1 and "already resolved" in again.err


async def _status(h: Harness, iid: str, status: str) -> bool:
    return any(r.incident_id == iid and r.status == status for r in await h.incidents.search())


async def test_exit_codes_say_what_went_wrong(stack: tuple[Cli, Harness]) -> None:
    baton, h = stack
    iid = await open_incident(h)
    missing = await baton("show", "INC-ZZZZZZ")
    assert missing.code == 1 and "no incident INC-ZZZZZZ" in missing.err
    not_an_id = await baton("show", "hello")
    assert not_an_id.code == 1 and "not an incident id" in not_an_id.err
    anonymous = await baton("ack", iid, token=None)
    assert anonymous.code == 2 and "set BATON_TOKEN to your personal token" in anonymous.err
    stranger = await baton("ack", iid, "--as", "mallory")
    assert stranger.code == 2 and "--as says mallory, but BATON_TOKEN is human:alice's token" in stranger.err
    forged = await baton("ack", iid, token="guess")
    assert forged.code == 2 and "does not know this token" in forged.err
    bad_usage = await baton("incidents", "--status", "sleeping")
    assert bad_usage.code == 2
    no_agent = await baton("mcp", "--agent", "triage")
    assert no_agent.code == 2 and "triage" in no_agent.err, "the MCP server never starts without a proven identity"
    empty_note = await baton("note", iid, "  ", "--as", "bob", token=BOB)
    assert empty_note.code == 1 and "needs text" in empty_note.err
    st = await h.incidents.state(iid)
    assert st.status.value == "triggered" and not any(e.kind == "note" for e in st.timeline)


async def test_no_gateway_is_a_sentence_not_a_traceback(stack: tuple[Cli, Harness]) -> None:
    baton, _ = stack
    closed = f"http://127.0.0.1:{free_port()}"
    for args in (["incidents"], ["ack", "INC-ZZZZZZ"]):
        run = await Cli(baton.env | {"BATON_URL": closed})(*args)
        assert run.code == 1 and f"cannot reach the baton gateway at {closed}" in run.err, run.err
        assert "Traceback" not in run.err


@pytest.mark.integration
async def test_config_check_names_every_problem_with_path_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "people:\n"
        "  alice: {email: not-an-email}\n"
        "escalation_policies:\n"
        "  p:\n"
        "    levels:\n"
        "      - {notify: [user:bob], after: soon}\n"
        "services:\n"
        "  web: {escalation: p, custommer_facing: true}\n"
    )
    run = await Cli(dict(os.environ))("config", "check", str(bad))
    assert run.code == 2
    assert "line 2: people.alice.email: 'not-an-email' is not an email address" in run.err
    assert "line 6: escalation_policies.p.levels[0].after: not a duration: 'soon'" in run.err
    assert "line 8: services.web.custommer_facing: unknown field" in run.err
    as_json = await Cli(dict(os.environ))("config", "check", str(bad), "--json")
    assert as_json.code == 2 and len(as_json.json["problems"]) == 3

    refs = tmp_path / "refs.yaml"
    refs.write_text(
        "escalation_policies:\n  p: {levels: [{notify: [user:bob], after: 5m}]}\nservices:\n  web: {escalation: q}\n"
    )
    run = await Cli(dict(os.environ))("config", "check", str(refs))
    assert run.code == 2
    assert "line 2: escalation_policies.p.levels[0].notify[0]: unknown person 'bob'" in run.err
    assert "line 4: services.web.escalation: unknown escalation policy 'q' (known: p)" in run.err

    good = await Cli(dict(os.environ) | {"BATON_INTAKE_TOKEN": "x"})("config", "check", "baton.example.yaml")
    assert good.code == 0 and "ok" in good.out


async def test_approvals_and_the_boundaries_report_from_the_command_line(stack: tuple[Cli, Harness]) -> None:
    baton, h = stack
    iid = await open_incident(h)
    await until(lambda: h.incidents.state(iid), lambda st: st.paged)
    triage = Actor.agent("triage")
    asked = await h.incidents.request(iid, triage, "rollback", "v42 is the only change", {"version": "v41"})
    shown = await baton("show", iid)
    assert "approvals" in shown.out and "A1" in shown.out and "rollback (version=v41)" in shown.out
    assert (await baton("deny", iid, asked.approval_id or "", "--as", "alice")).code == 2, "a denial needs a reason"
    by_bob = await baton("approve", iid, "A1", "--as", "bob", token=BOB)
    assert by_bob.code == 1 and "bob is not among those who may decide rollback" in by_bob.err
    token_only = await baton("approve", iid, "A1", "--as", "alice")
    assert token_only.code == 1 and "approve it with --code from your authenticator app" in token_only.err
    not_a_code = await baton("approve", iid, "A1", "--as", "alice", "--code", "12 34")
    assert not_a_code.code == 2 and "not a 6-digit code" in not_a_code.err
    wrong = f"{(int(pyotp.TOTP(SECRET).now()) + 500_000) % 1_000_000:06d}"
    assert "wrong or expired code" in (await baton("approve", iid, "A1", "--as", "alice", "--code", wrong)).err
    approved = await baton("approve", iid, "A1", "--as", "alice", "--json", "--code", Codes().next())
    assert approved.code == 0 and approved.json["ok"] and "approved A1" in approved.json["message"]
    twice = await baton("approve", iid, "A1", "--as", "alice")
    assert twice.code == 1 and "A1 was already approved by human:alice" in twice.err
    reloaded = await baton("reload", iid, "--as", "alice", "--json")
    assert reloaded.code == 0 and reloaded.json["message"] == "policy reloaded (nothing changed)"
    assert (await baton("reload", iid, token=None)).code == 2, "a reload is a human's, and says who"

    for action in ("drop_database", "drop_database", "postmortem_conclusions"):
        with pytest.raises(Refused):
            await h.incidents.request(iid, triage, action, "trying")
    report = await until(
        lambda: baton("boundaries", "report", "--since", "1h", "--json"),
        lambda r: r.code == 0 and any(row["action"] == "drop_database" for row in r.json),
    )
    rows = {row["action"]: row for row in report.json}
    assert rows["drop_database"]["verdict"] == "undefined" and rows["drop_database"]["count"] >= 2
    assert rows["postmortem_conclusions"]["rule"] == "boundaries.agent.never"
    assert report.json[0]["count"] >= report.json[-1]["count"], "most frequent first"
    text = await baton("boundaries", "report", "--since", "1h")
    assert "drop_database" in text.out and "undefined: no rule names the action" in text.out


async def test_a_name_alone_never_acts(stack: tuple[Cli, Harness]) -> None:
    """`BATON_USER=alice` (or `--as alice`) without alice's token approves nothing; her token does, as her."""
    baton, h = stack
    iid = await open_incident(h)
    await until(lambda: h.incidents.state(iid), lambda st: st.paged)
    await h.incidents.request(iid, Actor.agent("triage"), "rollback", "v42 is the only change", {"version": "v41"})

    no_token = await baton("approve", iid, "A1", user="alice", token=None)
    assert no_token.code == 2 and "BATON_TOKEN" in no_token.err
    bobs = await baton("approve", iid, "A1", user="alice", token=BOB)
    assert bobs.code == 2 and "BATON_USER says alice, but BATON_TOKEN is human:bob's token" in bobs.err
    wrong = await baton("approve", iid, "A1", "--as", "alice", token="alice")
    assert wrong.code == 2 and "does not know this token" in wrong.err
    agents = await baton("approve", iid, "A1", token=TRIAGE)
    assert agents.code == 1 and "approve is a human decision: agent:triage may not approve" in agents.err
    st = await h.incidents.state(iid)
    assert st.approval("A1").status.value == "pending"  # type: ignore[union-attr]

    as_bob = await baton("approve", iid, "A1", "--as", "bob", token=ALICE)
    assert as_bob.code == 2 and "--as says bob, but BATON_TOKEN is human:alice's token" in as_bob.err
    approved = await baton("approve", iid, "A1", "--json", "--code", Codes().next(), token=ALICE)
    assert approved.code == 0 and approved.json["message"].startswith("human:alice approved A1")
    assert (await h.incidents.state(iid)).approval("A1").decided_by == "human:alice"  # type: ignore[union-attr]


async def test_page_escalate_watch_and_postmortem(stack: tuple[Cli, Harness], sink: Sink) -> None:
    baton, h = stack
    iid = await open_incident(h)
    await until(lambda: h.incidents.state(iid), lambda st: st.paged)
    listed = await baton("incidents", "--since", "1h", "--json")
    assert listed.code == 0 and iid in [row["id"] for row in listed.json]
    assert (await baton("incidents", "--since", "soon")).code == 2

    watching = await asyncio.create_subprocess_exec(
        BATON, "watch", iid, "--every", "0.3", env=baton.env, stdout=asyncio.subprocess.PIPE
    )
    paged = await baton("page", iid, "bob", "-m", "knows the payment provider", "--as", "alice", "--json")
    assert paged.code == 0 and paged.json["message"] == "paging user:bob"
    await until(lambda: _sent(sink, "/bob"))
    escalated = await baton("escalate", iid, "-m", "need the lead", "--as", "alice")
    assert escalated.code == 0 and "paging level 2 now" in escalated.out
    await until(lambda: _sent(sink, "/dave"))
    resolved = await baton("resolve", iid, "-m", "provider recovered", "--as", "alice", "--code", Codes().next())
    assert resolved.code == 0, resolved.err
    followed, _ = await asyncio.wait_for(watching.communicate(), timeout=30)
    assert watching.returncode == 0, "watch ends when the incident is resolved"
    text = followed.decode()
    assert iid in text and "human:alice pages user:bob: knows the payment provider" in text
    assert "escalates to level 2 now: need the lead" in text and "resolved by human:alice" in text

    lines = await baton("watch", iid, "--json")
    assert lines.code == 0 and json.loads(lines.out.splitlines()[-1])["kind"] == "resolved"
    as_json = await baton("postmortem", iid, "--json")
    assert as_json.json["markdown"].startswith(f"# Postmortem draft: {iid}")
    draft = await baton("postmortem", iid)
    assert draft.code == 0 and draft.out.startswith(f"# Postmortem draft: {iid}")
    assert "provider recovered" in draft.out and "What was the root cause?" in draft.out
    assert (await baton("postmortem", "INC-000000")).code == 1


async def _sent(sink: Sink, path: str) -> list:
    return sink.for_path(path)


async def test_baton_agents_shows_an_agents_record_once_its_incident_completes(stack: tuple[Cli, Harness]) -> None:
    baton, h = stack
    iid = await open_incident(h)
    await h.incidents.note(iid, Actor.agent("triage"), "error rate falling")
    with pytest.raises(Refused):
        await h.incidents.request(iid, Actor.agent("triage"), "postmortem_conclusions", "the deploy did it")
    await h.incidents.resolve(iid, Actor.human("alice"), "recovered")

    async def shown() -> Run:
        return await baton("agents", "triage", "--json")

    found = await until(shown, lambda r: r.code == 0 and r.json["stats"]["incidents"] == 1)
    sev = found.json["stats"]["by_severity"]["SEV2"]
    assert (sev["incidents"], sev["clean"]) == (1, 0), "a refusal: not clean"
    assert sev["actions"]["note"]["alone"] == 1 and sev["actions"]["postmortem_conclusions"]["never"] == 1
    table = await baton("agents", "triage")
    assert table.code == 0 and "postmortem_conclusions" in table.out and iid in table.out
    listed = await baton("agents", "--json")
    assert listed.code == 0 and {v["agent"] for v in listed.json} == {"triage", "baton"}
    as_agent = await baton("agents", token=TRIAGE)
    assert as_agent.code == 1 and "agents' records are for people" in as_agent.err
    unknown = await baton("agents", "nobody")
    assert unknown.code == 1 and "no agent 'nobody' in the config" in unknown.err
    assert (await baton("agents", "Not A Name")).code == 2


LADDER = """
boundaries:
  autonomy:
    SEV3: full
    SEV2: {start: approval, full_after: {clean: 20, at: SEV3}}
    SEV1: approval
    SEV0: read_only
"""


@pytest.mark.parametrize("stack", [LADDER], indirect=True)
async def test_boundaries_show_agent_says_the_level_in_force_and_what_is_still_needed(
    stack: tuple[Cli, Harness],
) -> None:
    from datetime import UTC, datetime

    from incident.record import AgentIncident, Counts, Tally
    from workflows.agent import AgentRecord, AgentWorkflow, agent_workflow_id

    baton, h = stack
    ladders = IncidentPolicy.snapshot(h.config, "checkout").boundaries.ladders()
    rows = [Tally(actor="agent:triage", severity="SEV3", action="note", counts=Counts(asked=1, alone=1))]
    wid = agent_workflow_id(h.task_queue, "triage")
    for n in range(12):
        inc = AgentIncident(
            agent="triage",
            incident_id=f"INC-{n:06d}",
            severity="SEV3",
            resolved=True,
            completed_at=datetime.now(UTC),
            rows=rows,
            ladders=ladders,
        )
        await h.client.start_workflow(
            AgentWorkflow.run,
            AgentRecord(agent="triage"),
            id=wid,
            task_queue=h.task_queue,
            start_signal="incident_done",
            start_signal_args=[inc],
        )

    async def shown() -> Run:
        return await baton("boundaries", "show", "--agent", "triage", "--json")

    found = await until(shown, lambda r: r.code == 0 and r.json["autonomy"][2]["clean"] == 12)
    sev2 = next(r for r in found.json["autonomy"] if r["severity"] == "SEV2")
    assert sev2 == {
        "severity": "SEV2",
        "level": "approval",
        "ladder": True,
        "needs": "12 of 20 clean SEV3 incidents to full",
        "clean": 12,
    }
    assert {r["level"] for r in found.json["autonomy"] if not r["ladder"]} == {"full", "approval", "read_only"}
    table = await baton("boundaries", "show", "--agent", "triage")
    assert table.code == 0 and "12 of 20 clean SEV3 incidents to full" in table.out, table.out
    assert "SEV2 (approval*)" in table.out and "earned on a ladder" in table.out
    unknown = await baton("boundaries", "show", "--agent", "nobody")
    assert unknown.code == 2 and "'nobody' is not an agent in the config (known: triage)" in unknown.err
