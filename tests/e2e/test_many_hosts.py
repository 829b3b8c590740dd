"""Many hosts: two workers and two intakes, each on a host of its own (a network namespace), against one Temporal.

The worker that holds the incident (the one whose sticky queue it is on) is cut off the network mid-escalation:
its process keeps running and does not notice, as in a partition. The other worker must send the level-2 page
when it is due, exactly once, no later than the sticky-queue timeout plus a few seconds; and an alert for the same
key sent through the other intake joins the same incident. Nothing either intake or worker held in memory is
needed for that (docs/deploy.md, "Many hosts").
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from gateway.client import Incidents
from tests.helpers.invariants import Check, Escalation, Level, incident_state, list_incidents
from tests.helpers.netns import Host, NetnsUnavailable, Network, is_root, leftovers, network
from tests.helpers.processes import Child, DevServer, Intake, intake, worker
from tests.helpers.receiver import Received, Receiver, webhook_receiver
from tests.helpers.retrying_client import RetryingSender
from tests.helpers.stack import AUTH, TOKEN_ENV, config_text, connected, event, worker_polling
from tests.helpers.temporal import TRUSTED_ENV, gateway
from tests.helpers.wait import until
from worker import STICKY_TIMEOUT

pytestmark = pytest.mark.skipif(not is_root(), reason="network namespaces (ip netns, veth) need root")

AFTER1 = 10
"""Seconds level 1 has: the cut comes a second or two into it, well before level 2 is due."""
AFTER2 = 2
SLACK = STICKY_TIMEOUT.total_seconds() + 4
"""How late a page may be: the sticky-queue timeout (the cut worker's queue is given up on), then another worker
replays the incident and sends the page."""
HOSTS = ["temporal", "w1", "w2", "i1", "i2"]
KEEPALIVE = {"frontend.keepAliveTime": '"1s"', "frontend.keepAliveTimeout": '"1s"'}
"""How soon Temporal's frontend notices a client that went silent and drops its polls (docs/deploy.md, "Many
hosts"). Until it does, a task may be handed to the cut worker's poll and wait out its timeout (10 s for a
workflow task); by default that takes more than a minute."""


@dataclass
class Hosts:
    net: Network
    server: DevServer
    receiver: Receiver
    workers: dict[str, Child]
    intakes: dict[str, Intake]
    client: Client
    incidents: Incidents
    queue: str

    def logs(self) -> str:
        children = [*self.workers.values(), *(i.child for i in self.intakes.values()), self.server.child]
        return "\n".join(f"==== {c.name}\n{c.output()[-3000:]}" for c in children if c is not None)

    def host_of(self, identity: str) -> str:
        """Which worker host a Temporal identity (`pid@hostname`, as the SDK makes it) is."""
        for name, child in self.workers.items():
            if child.proc is not None and identity.startswith(f"{child.proc.pid}@"):
                return name
        raise AssertionError(f"{identity!r} is none of the workers")


@pytest.fixture
def net() -> Iterator[Network]:
    """The hosts' network; removed after the test whatever happened (and checked to be)."""
    try:
        with network(HOSTS) as made:
            yield made
    except NetnsUnavailable as e:
        pytest.fail(f"running as root, but network namespaces cannot be made here: {e}")
    assert not leftovers(), f"network namespaces left behind: {leftovers()}"


@pytest.fixture
async def hosts(tmp_path: Path, net: Network) -> AsyncIterator[Hosts]:
    queue = f"hosts-{uuid.uuid4().hex[:8]}"
    async with AsyncExitStack() as stack:
        receiver = stack.enter_context(webhook_receiver(host=net.gateway))
        config = tmp_path / "baton.yaml"
        config.write_text(config_text(receiver.url, AFTER1, AFTER2))
        # Temporal on a host of its own: inside its namespace it listens on every address it has (the dev server's
        # services reach each other on 127.0.0.1), and the others reach it over the bridge.
        place = net.hosts["temporal"]
        server = DevServer(tmp_path / "temporal.db", tmp_path / "temporal.log", host=place.address, bind="0.0.0.0")
        server.prefix = place.wrap([])
        server.dynamic_config = dict(KEEPALIVE)
        workers: dict[str, Child] = {}
        intakes: dict[str, Intake] = {}

        def stop_all() -> None:
            for child in [*(i.child for i in intakes.values()), *workers.values(), server.child]:
                if child is not None:
                    child.kill()

        stack.callback(stop_all)
        server.start()
        client = await until(lambda: connected(server.address), timeout=30)
        for name in ("w1", "w2"):
            host = net.hosts[name]
            w = worker(server.address, config, queue, tmp_path / f"worker-{name}.log")
            w.name, w.cmd, w.env = f"worker {name}", host.wrap(w.cmd), w.env | TOKEN_ENV | TRUSTED_ENV
            workers[name] = w
            w.start()
        for w in workers.values():
            await worker_polling(client, queue, w)
        for name in ("i1", "i2"):
            host = net.hosts[name]
            i = intake(server.address, config, queue, tmp_path / f"intake-{name}.log", TOKEN_ENV, host=host.address)
            i.child.name, i.child.cmd = f"intake {name}", host.wrap(i.child.cmd)
            intakes[name] = i
            i.start()
        yield Hosts(net, server, receiver, workers, intakes, client, gateway(client, queue), queue)


async def holder(h: Hosts, workflow_id: str) -> str:
    """The worker host that ran the incident's last workflow task: the incident is cached there, and its next
    workflow task goes to that worker's sticky queue first."""
    history = await h.client.get_workflow_handle(workflow_id).fetch_history()
    started = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED]
    return h.host_of(started[-1].workflow_task_started_event_attributes.identity)


async def page_senders(h: Hosts, workflow_id: str) -> list[str]:
    """The worker host that started each page activity, in order."""
    history = await h.client.get_workflow_handle(workflow_id).fetch_history()
    scheduled = {
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "send_page"
    }
    return [
        h.host_of(e.activity_task_started_event_attributes.identity)
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and e.activity_task_started_event_attributes.scheduled_event_id in scheduled
    ]


async def test_a_worker_host_cut_off_mid_escalation_its_page_goes_out_once_from_the_other(hosts: Hosts) -> None:
    h = hosts
    key = f"hosts-{uuid.uuid4().hex[:6]}"
    first = RetryingSender(h.intakes["i1"].url, AUTH)
    second = RetryingSender(h.intakes["i2"].url, AUTH)
    async with httpx.AsyncClient() as http:
        out = await first.send(http, "/v1/events", event(key, 0))
        assert out.status == 202, (out.answers, h.logs()[-4000:])

        async def paged() -> object:
            rows = await list_incidents(h.incidents)
            if not rows:
                return None
            st = await incident_state(h.client, rows[0].workflow_id)
            return (rows[0].workflow_id, st) if st.first_page_at else None

        workflow_id, st = await until(paged, timeout=30)
        due = st.opened_at.timestamp() + AFTER1
        assert time.time() < due - 5, f"level 1 was paged too late to cut a host before level 2:\n{h.logs()[-4000:]}"
        assert not [p for p in h.receiver.pages() if p.body.get("level") == 2]

        cut = await holder(h, workflow_id)
        survivor = "w2" if cut == "w1" else "w1"
        h.net.hosts[cut].cut()
        assert h.workers[cut].running, "the cut worker keeps running: it is partitioned, not dead"

        # Nothing reaches the incident until level 2 is due: its timer is the first task after the cut, and it is
        # on the cut worker's sticky queue.
        async def level2_paged() -> list[Received]:
            return [p for p in h.receiver.pages() if p.body.get("level") == 2]

        await until(level2_paged, timeout=AFTER1 + SLACK + 10)

        out = await second.send(http, "/v1/events", event(key, 1))
        assert out.status == 202, (out.answers, h.logs()[-4000:])

    check = Check(h.client, h.incidents, h.receiver, Escalation([Level("alice", AFTER1), Level("dave", AFTER2)]))
    check.outcomes = first.outcomes + second.outcomes
    check.slack = SLACK
    problems = await check.run({key}, timeout=AFTER1 + AFTER2 + 30)
    print(check.figures.line("worker host cut off mid-escalation"))
    assert not problems, "\n  ".join(["invariants broken:", *problems, h.logs()[-6000:]])

    st = await incident_state(h.client, workflow_id)
    assert st.alert_count == 2, "the alert through the second intake joined the incident the first one opened"
    level2 = [p for p in h.receiver.pages() if p.body.get("level") == 2]
    assert len({p.idempotency_key for p in level2}) == 1
    print(f"level 2 paged {level2[0].arrived - due:+.1f}s from its due time; cut {cut}, survivor {survivor}")
    senders = await page_senders(h, workflow_id)
    assert senders[-1] == survivor, f"the level-2 page was started by {senders[-1]}, not {survivor}: {senders}"


def test_the_network_is_really_cut(net: Network) -> None:
    """The fault is real: a host whose link is down reaches nothing, and reaches again once it is up."""
    import socket
    import subprocess

    listener = socket.socket()
    listener.bind((net.gateway, 0))
    listener.listen()
    port = listener.getsockname()[1]
    probe = f"import socket; socket.create_connection(('{net.gateway}', {port}), timeout=1)"
    host: Host = net.hosts["w1"]
    try:
        assert subprocess.run(host.wrap(["python3", "-c", probe]), capture_output=True).returncode == 0
        host.cut()
        assert subprocess.run(host.wrap(["python3", "-c", probe]), capture_output=True).returncode != 0
        host.reconnect()
        assert subprocess.run(host.wrap(["python3", "-c", probe]), capture_output=True).returncode == 0
    finally:
        listener.close()
