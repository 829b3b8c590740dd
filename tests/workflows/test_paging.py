"""Pages through a notifier outage: kept trying until delivered or the level's time runs out, delivered late when the
receiver recovers, the next level told who was unreachable, never holding up another page or a deadline, a dead
attempt retried within seconds; PagerDuty gets a per-incident key and hears of the ack and the resolve.

The outage tests run in virtual time on the time-skipping server; the hang and the killed worker need real time and
real processes, on the dev server.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from incident.config import Config
from incident.ids import workflow_id_for
from incident.models import Actor, Status, TimelineEntry
from incident.state import IncidentPolicy, IncidentState
from tests.helpers.config import alert, make_config
from tests.helpers.http import HttpRequest, loopback_http
from tests.helpers.temporal import Harness, dev_address, harness
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow

CONFIG = """
people:
  alice: {name: Alice, webhook: "SINK/alice", notify: [webhook]}
  bob:   {name: Bob, webhook: "SINK/bob", notify: [webhook]}
  dave:  {name: Dave, webhook: "SINK/dave", notify: [webhook]}
  erin:  {name: Erin, pagerduty: pd-routing-key-erin, notify: [pagerduty]}
escalation_policies:
  two-levels:
    levels:
      - {notify: [user:alice], after: AFTER}
      - {notify: [user:dave], after: 10m}
  bob-first:
    levels:
      - {notify: [user:bob], after: AFTER}
      - {notify: [user:dave], after: 10m}
  pagerduty:
    levels: [{notify: [user:erin], after: 5m}]
services:
  checkout: {escalation: two-levels}
  payments: {escalation: bob-first}
  search: {escalation: pagerduty}
routing: {default_service: checkout}
integrations:
  events: {token: env:TEST_INTAKE_TOKEN}
  pagerduty: {url: "SINK/v2/enqueue"}
"""
HANG_S = 12.0
"""How long a hanging receiver holds a request: past the notifiers' 10 s HTTP timeout."""


@dataclass
class Got:
    path: str
    headers: dict[str, str]
    json: Any
    status: int
    at: float = field(default_factory=time.monotonic)


@dataclass
class Receiver:
    """A webhook receiver (and PagerDuty double) on loopback that records every request, answers 500 on `failing`
    paths and holds requests on `hanging` paths past the HTTP timeout (until `release` is set)."""

    url: str = ""
    failing: set[str] = field(default_factory=set)
    hanging: set[str] = field(default_factory=set)
    got: list[Got] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, path: str) -> list[Got]:
        with self.lock:
            return [g for g in self.got if g.path == path]

    def delivered(self, path: str) -> list[Got]:
        return [g for g in self.to(path) if g.status < 300]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    def respond(req: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        hang = req.path in state.hanging
        status = 500 if req.path in state.failing else 202 if req.path == "/v2/enqueue" else 200
        got = Got(req.path, req.headers, json.loads(req.body or b"null"), status if not hang else 0)
        with state.lock:
            state.got.append(got)
        if hang:
            state.release.wait(HANG_S)
            got.status = status
        return status, {"Content-Type": "application/json"}, b"{}"

    with loopback_http(respond) as url:
        state.url = url
        yield state
    state.release.set()


def config(receiver: Receiver, after: str = "5m") -> Config:
    return make_config(receiver.url, base=CONFIG.replace("AFTER", after))


@pytest.fixture
async def hp(ts_env: WorkflowEnvironment, receiver: Receiver) -> AsyncIterator[Harness]:
    async with httpx.AsyncClient() as http:
        hh = await harness(ts_env, config(receiver), http)
        async with hh.worker:
            yield hh


async def start(h: Harness, service: str = "checkout", key: str | None = None) -> str:
    key = key or f"{h.task_queue}-{service}"
    await h.incidents.ingest(alert(key, service=service), IncidentPolicy.snapshot(h.config, service), "test")
    return workflow_id_for("test", key)


async def state(client: Any, wid: str) -> IncidentState:
    st: IncidentState = await client.get_workflow_handle(wid).query(IncidentWorkflow.state)
    return st


def of(st: IncidentState, kind: str, **data: Any) -> list[TimelineEntry]:
    return [e for e in st.timeline if e.kind == kind and all((e.data or {}).get(k) == v for k, v in data.items())]


# ---- a notifier outage, in virtual time ------------------------------------------------------------------------


async def test_level_one_page_is_kept_trying_through_an_outage_and_delivered_before_level_two(
    hp: Harness, receiver: Receiver
) -> None:
    receiver.failing.add("/alice")
    wid = await start(hp)
    await until(lambda: _count(receiver, "/alice"), lambda n: n >= 1)
    await hp.env.sleep(timedelta(seconds=90))
    tried = receiver.to("/alice")
    assert len(tried) > 3, f"the page was given up after {len(tried)} attempts in a 90 s outage"
    assert not receiver.delivered("/alice")

    receiver.failing.clear()  # the receiver recovers
    await hp.env.sleep(timedelta(seconds=60))
    st = await until(lambda: state(hp.client, wid), lambda s: bool(of(s, "paged", level=1)))
    paged = of(st, "paged", level=1)[0]
    assert paged.data and paged.data["person"] == "alice"
    assert paged.at - st.opened_at < timedelta(minutes=2), "delivered long after the receiver recovered"
    assert not of(st, "paged", level=2) and receiver.to("/dave") == [], "level 2 was paged as if level 1 had been"
    assert len(receiver.delivered("/alice")) == 1
    keys = {g.headers["Idempotency-Key"] for g in receiver.to("/alice")}
    assert len(keys) == 1, f"one page, one Idempotency-Key across its attempts: {keys}"
    assert receiver.to("/alice")[-1].json["page_id"] in keys
    # The timeline stays readable: the first failure, then one running summary, not an entry per attempt.
    failed, trying = of(st, "page_failed"), of(st, "page_retrying")
    assert len(failed) == 1 and "no method left" not in failed[0].text
    assert len(trying) == 1 and trying[0].data and trying[0].data["attempts"] == len(receiver.to("/alice")) - 1
    assert "still trying alice" in trying[0].text and "webhook answered 500" in trying[0].text


async def test_level_two_is_told_level_one_was_unreachable_and_level_one_is_paged_late(
    hp: Harness, receiver: Receiver
) -> None:
    receiver.failing.add("/alice")
    wid = await start(hp)
    await hp.env.sleep(timedelta(minutes=5, seconds=5))
    st = await until(lambda: state(hp.client, wid), lambda s: bool(of(s, "paged", level=2)))
    level2 = of(st, "paged", level=2)[0]
    assert timedelta(minutes=5) <= level2.at - st.opened_at < timedelta(minutes=5, seconds=3)
    page = receiver.delivered("/dave")[0].json
    assert page["unreachable"] and "alice" in page["unreachable"] and "level 1" in page["unreachable"].lower()
    assert "could not be reached" in page["unreachable"]
    unreached = of(st, "page_unreachable", level=1, person="alice")
    assert len(unreached) == 1 and "webhook answered 500" in unreached[0].text
    assert not receiver.delivered("/alice")

    receiver.failing.clear()  # alice's receiver recovers after her level's time ran out
    await hp.env.sleep(timedelta(minutes=3))
    st = await until(lambda: state(hp.client, wid), lambda s: bool(of(s, "paged", level=1)))
    late = of(st, "paged", level=1)[0]
    assert late.data and late.data["late"] is True and "late" in late.text
    [delivered] = receiver.delivered("/alice")
    assert delivered.json["late"] is True and delivered.json["level"] == 1
    assert len({g.headers["Idempotency-Key"] for g in receiver.to("/alice")}) == 1


async def test_an_undelivered_page_is_dropped_once_the_incident_is_acknowledged(
    hp: Harness, receiver: Receiver
) -> None:
    receiver.failing.add("/alice")
    wid = await start(hp)
    await until(lambda: _count(receiver, "/alice"), lambda n: n >= 1)
    await hp.env.sleep(timedelta(seconds=20))
    await hp.incidents.acknowledge(wid, Actor.human("alice"))
    before = len(receiver.to("/alice"))
    receiver.failing.clear()
    await hp.env.sleep(timedelta(minutes=20))
    assert receiver.delivered("/alice") == [], "a page went out after the incident was acknowledged"
    assert len(receiver.to("/alice")) <= before + 1, "attempts went on after the acknowledgement"
    st = await state(hp.client, wid)
    assert st.status is Status.ACKNOWLEDGED and not of(st, "paged")


# ---- PagerDuty -------------------------------------------------------------------------------------------------


async def test_pagerduty_gets_a_per_incident_key_then_acknowledge_and_resolve(hp: Harness, receiver: Receiver) -> None:
    wid = await start(hp, "search", key=f"{hp.task_queue}-" + "k" * 300)
    [trigger] = await until(lambda: _events(receiver), lambda evs: len(evs) >= 1)
    st = await state(hp.client, wid)
    key = trigger["dedup_key"]
    assert trigger["event_action"] == "trigger" and trigger["routing_key"] == "pd-routing-key-erin"
    assert key != wid and key.startswith(f"baton/{st.incident_id}/") and len(key) <= 255

    await hp.incidents.acknowledge(wid, Actor.human("erin"))
    await until(lambda: _events(receiver), lambda evs: len(evs) >= 2)
    await hp.incidents.resolve(wid, Actor.human("erin"), "fixed")
    await hp.client.get_workflow_handle(wid).result()
    events = await _events(receiver)
    assert [(e["event_action"], e["dedup_key"]) for e in events] == [
        ("trigger", key),
        ("acknowledge", key),
        ("resolve", key),
    ]
    assert all(e["routing_key"] == "pd-routing-key-erin" for e in events)
    st = await state(hp.client, wid)
    assert [e.data and e.data["status"] for e in of(st, "forwarded", person="erin")] == ["acknowledged", "resolved"]

    # The next incident on the same dedup key gets a key of its own: its trigger rings again.
    await start(hp, "search", key=f"{hp.task_queue}-" + "k" * 300)
    evs = await until(lambda: _events(receiver), lambda evs: len(evs) >= 4)
    assert evs[3]["event_action"] == "trigger" and evs[3]["dedup_key"] != key


async def paged(client: Any, wid: str, level: int, timeout: float = 15) -> IncidentState:
    """The incident's state once it records a delivered page of `level`."""
    st: IncidentState = await until(lambda: state(client, wid), lambda s: bool(of(s, "paged", level=level)), timeout)
    return st


async def _count(receiver: Receiver, path: str) -> int:
    return len(receiver.to(path))


async def _events(receiver: Receiver) -> list[Any]:
    return [g.json for g in receiver.delivered("/v2/enqueue")]


# ---- real time on the dev server: a hanging receiver, a worker killed mid-page -----------------------------------


async def test_a_hanging_receiver_delays_no_other_page_and_no_deadline(
    dev_env: WorkflowEnvironment, receiver: Receiver
) -> None:
    receiver.hanging.add("/alice")
    cfg = config(receiver, after="3s")
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, cfg, http)
        async with h.worker:
            hung = await start(h, "checkout")
            other = await start(h, "payments")
            await paged(h.client, other, level=1, timeout=5)
            # bob brings alice in: that page hangs too, and must not hold up his incident's level 2 either
            await h.incidents.request(other, Actor.human("bob"), "page", "need alice", {"target": "user:alice"})
            await until(lambda: _count(receiver, "/alice"), lambda n: n >= 2, timeout=10)
            for wid in (hung, other):
                st = await paged(h.client, wid, level=2, timeout=10)
                level2 = of(st, "paged", level=2)[0]
                late = level2.at - st.opened_at - timedelta(seconds=3)
                assert late < timedelta(seconds=2), f"level 2 of {wid} went out {late} late"
            assert len(receiver.delivered("/dave")) == 2 and len(receiver.delivered("/bob")) == 1
            assert not of(await state(h.client, hung), "paged", level=1)
            receiver.release.set()
            await h.client.get_workflow_handle(hung).terminate()
            await h.client.get_workflow_handle(other).terminate()


async def test_a_receiver_that_recovers_during_a_hung_attempt_gets_the_page_at_once(
    dev_env: WorkflowEnvironment, receiver: Receiver
) -> None:
    """Three quick 500s, then an attempt that hangs past the 10 s HTTP timeout while the receiver recovers: the
    backoff counts from the round's start, so the page is sent again as soon as the hung attempt ends."""
    receiver.failing.add("/alice")
    cfg = config(receiver, after="1m")
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, cfg, http)
        async with h.worker:
            wid = await start(h, "checkout")
            await until(lambda: _count(receiver, "/alice"), lambda n: n >= 3, timeout=15)
            receiver.failing.clear()
            receiver.hanging.add("/alice")  # the next attempt hangs ...
            await until(lambda: _count(receiver, "/alice"), lambda n: n >= 4, timeout=15)
            receiver.hanging.clear()  # ... and the receiver is back while it does
            hung = receiver.to("/alice")[3].at
            st = await paged(h.client, wid, level=1, timeout=30)
            delivered = receiver.delivered("/alice")[-1].at
            assert delivered - hung < 13, f"delivered {delivered - hung:.1f} s after the hung attempt began"
            assert len(of(st, "paged", level=1)) == 1
            await h.client.get_workflow_handle(wid).terminate()


async def test_a_slow_first_receiver_gets_its_page_by_its_own_method_once(
    dev_env: WorkflowEnvironment, receiver: Receiver
) -> None:
    """The first page's first attempt is sent from the workflow task that opened the incident and gives up
    waiting after LOCAL_ATTEMPT_TIMEOUT: a receiver slower than that is asked again by the same method with the
    same key, not taken for a failed method (no fallback, no failure on the timeline)."""
    receiver.hanging.add("/alice")
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, config(receiver), http)
        async with h.worker:
            wid = await start(h, "checkout")
            await until(lambda: _count(receiver, "/alice"), lambda n: n >= 2, timeout=10)  # the local try, then one
            receiver.hanging.clear()
            receiver.release.set()
            st = await paged(h.client, wid, level=1, timeout=20)
            assert [e.data["method"] for e in of(st, "paged", level=1) if e.data] == ["webhook"]
            assert not of(st, "page_failed"), "a slow receiver was reported as failed"
            keys = {g.headers["Idempotency-Key"] for g in receiver.to("/alice")}
            assert len(keys) == 1, f"one page, one key across its attempts: {keys}"
            await h.client.get_workflow_handle(wid).terminate()


def start_worker(dev_env: WorkflowEnvironment, config_file: Path, queue: str) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "TEMPORAL_ADDRESS": dev_address(dev_env),
        "BATON_CONFIG": str(config_file),
        "BATON_TASK_QUEUE": queue,
    }
    return subprocess.Popen([sys.executable, "-m", "worker"], env=env, cwd=Path(__file__).parents[2])


async def test_a_page_lost_with_a_killed_worker_is_retried_within_seconds(
    dev_env: WorkflowEnvironment, receiver: Receiver, tmp_path: Path
) -> None:
    queue = f"pagecrash-{uuid.uuid4().hex[:8]}"
    config_file = tmp_path / "baton.yaml"
    config_file.write_text(CONFIG.replace("SINK", receiver.url).replace("AFTER", "5m"))
    cfg = config(receiver)
    receiver.hanging.add("/alice")  # the first attempt hangs: the worker dies while it is in flight
    first = start_worker(dev_env, config_file, queue)
    second: subprocess.Popen[bytes] | None = None
    from gateway.client import Incidents

    incidents = Incidents(dev_env.client, task_queue=queue)
    try:
        await incidents.ingest(alert(queue), IncidentPolicy.snapshot(cfg, "checkout"), "crash")
        wid = workflow_id_for("crash", queue)
        await until(lambda: _count(receiver, "/alice"), timeout=30)
        receiver.hanging.clear()
        second = start_worker(dev_env, config_file, queue)
        await asyncio.sleep(1.0)  # the second worker is up: what is measured is the retry, not its start-up
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed = time.monotonic()
        await until(lambda: _count(receiver, "/alice"), lambda n: n >= 2, timeout=40)
        retried = receiver.to("/alice")[1].at - killed
        assert retried < 10, f"the lost attempt was retried {retried:.1f} s after the worker died"
        st = await until(lambda: state(dev_env.client, wid), lambda s: bool(of(s, "paged", level=1)), 15)
        assert len(of(st, "paged", level=1)) == 1
        assert len({g.headers["Idempotency-Key"] for g in receiver.to("/alice")}) == 1
        await dev_env.client.get_workflow_handle(wid).terminate()
    finally:
        receiver.release.set()
        for proc in (first, second):
            if proc and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)
