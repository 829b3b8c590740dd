"""`escalate` asked while a level is still being paged, and after approvals escalated: the next level, once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
from temporalio.testing import WorkflowEnvironment

from incident.ids import workflow_id_for
from incident.models import Actor
from incident.state import IncidentPolicy, IncidentState
from tests.helpers.config import alert, make_config
from tests.helpers.http import HttpRequest, Sink, recording_sink
from tests.helpers.incidents import SCOPE, entries, open_incident, state
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until

ALICE, TRIAGE = Actor.human("alice"), Actor.agent("triage")


@contextmanager
def held_sink() -> Iterator[Sink]:
    """A webhook receiver that holds alice's first page until released: level 1 is being paged meanwhile."""
    first = threading.Event()

    def alices_first(req: HttpRequest) -> bool:
        if req.path != "/alice" or first.is_set():
            return False
        first.set()
        return True

    with recording_sink(hold=alices_first, hold_for=30) as sink:
        yield sink


async def test_escalate_while_level_one_is_being_paged_pages_level_two_not_level_one_again(
    ts_env: WorkflowEnvironment,
) -> None:
    with held_sink() as sink:
        async with httpx.AsyncClient() as http:
            h = await harness(ts_env, make_config(sink.url), http)
            async with h.worker:
                key = f"{h.task_queue}-held"
                await h.incidents.ingest(alert(key), IncidentPolicy.snapshot(h.config, "checkout"), SCOPE)
                wid = workflow_id_for(SCOPE, key)
                await until(lambda: _arrived(sink))
                reply = await h.incidents.request(wid, ALICE, "escalate", "alice is in a meeting; get dave")
                # level 1's page is tried beside the main loop, so level 2 goes out at once, not after it
                assert reply.message == "paging level 2 now", reply.message
                sink.release.set()

                st = await until(lambda: state(h, wid), lambda s: sorted(_levels(s, "paged")) == [1, 2])
                assert len(sink.to("/dave")) == 1
                assert _levels(st, "escalation") == [1, 2], "level 1 was paged again instead of level 2"
                level2 = next(e for e in entries(st, "paged") if e.data["level"] == 2)
                assert level2.at - st.opened_at < timedelta(seconds=30), "level 2 waited for level 1's window"
                asked = entries(st, "escalate")[0]
                assert asked.data == {"level": 2} and asked.actor == "human:alice"
                # One page to alice: an attempt retried after the held one timed out carries the same key.
                keys = {r["headers"].get("Idempotency-Key") for r in sink.to("/alice")}
                assert len(keys) == 1, f"alice was paged twice: {keys}"


async def _arrived(sink: Sink) -> bool:
    return bool(sink.for_path("/alice"))  # recorded, then held


def _levels(st: IncidentState, kind: str) -> list[int]:
    return [e.data["level"] for e in entries(st, kind)]


async def test_an_escalated_approval_leaves_the_incidents_levels_to_escalate(h: Harness, sink: Sink) -> None:
    """An unanswered approval asks the next level about itself; that is not paging the level into the incident,
    so a later `escalate` still brings that level in."""
    wid = await open_incident(h)
    await h.incidents.acknowledge(wid, ALICE)
    await h.incidents.request(wid, TRIAGE, "rollback", "bad deploy", {"version": "v41"})
    await h.env.sleep(h.config.boundaries.approval_timeout + timedelta(seconds=5))
    st = await until(lambda: state(h, wid), lambda s: bool(entries(s, "approval_escalated")))
    assert entries(st, "approval_escalated")[0].data == {"approval": "A1", "level": 2}
    assert [r["json"]["kind"] for r in sink.for_path("/dave")] == ["approval"]

    reply = await h.incidents.request(wid, ALICE, "escalate", "need dave's hands on the database")
    assert reply.message == "paging level 2 now"
    await until(lambda: _kinds(sink, "/dave"), lambda kinds: kinds == ["approval", "page"])


async def _kinds(sink: Sink, path: str) -> list[str]:
    return [r["json"]["kind"] for r in sink.for_path(path)]
