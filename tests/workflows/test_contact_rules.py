"""Contact rules in virtual time: each step goes out on its delay (Slack-like webhook at once, SMS after 2 min, a
call after 5 min), every step still waiting stops when someone acknowledges, and a working-hours step of a
low-urgency incident waits for the person's working hours to begin. Twilio is a real HTTP server on loopback."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from incident.config import Config, parse_config
from incident.ids import workflow_id_for
from incident.models import Actor, Severity, Status, TimelineEntry
from incident.state import IncidentPolicy, IncidentState
from tests.activities.test_twilio import AUTH_TOKEN, FROM, PHONE, SID, Twilio
from tests.helpers.config import alert
from tests.helpers.http import HttpRequest, loopback_http
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow

CONFIG = """
people:
  alice:
    name: Alice
    webhook: "URL/alice"
    phone: "PHONE"
    timezone: TZ
    working_hours: {days: [mon, tue, wed, thu, fri, sat, sun], start: "09:00", end: "17:00"}
    notify: [webhook]
    contact:
      high:
        - {method: webhook, after: 0s}
        - {method: sms, after: 2m}
        - {method: voice, after: 5m}
      low:
        - {method: sms, after: 0s, working_hours: true}
  dave: {name: Dave, webhook: "URL/dave", notify: [webhook]}
escalation_policies:
  two-levels:
    levels:
      - {notify: [user:alice], after: AFTER}
      - {notify: [user:dave], after: 10m}
services:
  checkout: {escalation: two-levels}
urgency: {SEV0: high, SEV1: high, SEV2: high, SEV3: low, SEV4: low}
integrations:
  events: {token: env:TEST_INTAKE_TOKEN}
  twilio: {account_sid: SID, auth_token: AUTH, from: "FROM", api_url: "URL"}
"""


@dataclass
class Receivers:
    """Twilio's API and the people's webhooks on one loopback server."""

    twilio: Twilio = field(default_factory=Twilio)
    hooks: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def respond(self, r: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        if r.path.startswith("/2010-04-01/"):
            return self.twilio.respond(r)
        with self.lock:
            self.hooks.append((r.path, json.loads(r.body or b"null")))
        return 200, {"Content-Type": "application/json"}, b"{}"

    async def sent(self) -> list[str]:
        """What reached alice, in order: `webhook`, `sms`, `voice`."""
        names = {"Messages.json": "sms", "Calls.json": "voice"}
        with self.lock, self.twilio.lock:
            hooks = ["webhook" for path, _ in self.hooks if path == "/alice"]
            return hooks + [names[resource] for resource, _ in self.twilio.accepted]


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    r = Receivers()
    with loopback_http(r.respond) as url:
        r.url = r.twilio.url = url
        yield r


def config(url: str, tz: str = "UTC", after: str = "10m") -> Config:
    text = CONFIG
    for k, v in {"URL": url, "PHONE": PHONE, "TZ": tz, "AFTER": after, "SID": SID, "AUTH": AUTH_TOKEN}.items():
        text = text.replace(k, v)
    return parse_config(text.replace('"FROM"', f'"{FROM}"'))


@contextlib.asynccontextmanager
async def running(env: WorkflowEnvironment, cfg: Config) -> AsyncIterator[Harness]:
    async with httpx.AsyncClient() as http:
        h = await harness(env, cfg, http)
        async with h.worker:
            yield h


async def start(h: Harness, severity: Severity = Severity.SEV1) -> str:
    key = f"{h.task_queue}-checkout"
    await h.incidents.ingest(
        alert(key).model_copy(update={"severity": severity}), IncidentPolicy.snapshot(h.config, "checkout"), "test"
    )
    return workflow_id_for("test", key)


async def state(h: Harness, wid: str) -> IncidentState:
    st: IncidentState = await h.client.get_workflow_handle(wid).query(IncidentWorkflow.state)
    return st


def paged(st: IncidentState, person: str = "alice") -> list[TimelineEntry]:
    return [e for e in st.timeline if e.kind == "paged" and (e.data or {}).get("person") == person]


async def test_contact_rules_step_through_methods_on_their_delays(
    ts_env: WorkflowEnvironment, receivers: Receivers
) -> None:
    async with running(ts_env, config(receivers.url)) as h:
        wid = await start(h)
        await until(receivers.sent, lambda sent: sent == ["webhook"])
        await h.env.sleep(timedelta(minutes=1, seconds=50))
        assert await receivers.sent() == ["webhook"], "the SMS went before its 2 minutes"
        await h.env.sleep(timedelta(seconds=20))
        await until(receivers.sent, lambda sent: sent == ["webhook", "sms"])
        await h.env.sleep(timedelta(minutes=2, seconds=40))
        assert await receivers.sent() == ["webhook", "sms"], "the call went before its 5 minutes"
        await h.env.sleep(timedelta(seconds=30))
        await until(receivers.sent, lambda sent: sent == ["webhook", "sms", "voice"])
        st = await until(lambda: state(h, wid), lambda s: len(paged(s)) == 3)
        at = {(e.data or {})["method"]: e.at - st.opened_at for e in paged(st)}
        assert at["webhook"] < timedelta(seconds=5)
        assert timedelta(minutes=2) <= at["sms"] < timedelta(minutes=2, seconds=5)
        assert timedelta(minutes=5) <= at["voice"] < timedelta(minutes=5, seconds=5)
        sms = receivers.twilio.accepted[0][1]
        assert sms["To"] == PHONE and sms["From"] == FROM and st.incident_id in sms["Body"]
        assert not paged(st, "dave"), "level 2 was paged although level 1 was reached"


async def test_contact_rules_stop_on_ack(ts_env: WorkflowEnvironment, receivers: Receivers) -> None:
    async with running(ts_env, config(receivers.url)) as h:
        wid = await start(h)
        await h.env.sleep(timedelta(minutes=2, seconds=10))
        await until(receivers.sent, lambda sent: sent == ["webhook", "sms"])
        await h.incidents.acknowledge(wid, Actor.human("dave"))  # anyone's acknowledgement stops every step
        await h.env.sleep(timedelta(minutes=30))
        assert await receivers.sent() == ["webhook", "sms"], "a step went out after the acknowledgement"
        st = await state(h, wid)
        assert st.status is Status.ACKNOWLEDGED and [(e.data or {})["method"] for e in paged(st)] == ["webhook", "sms"]


async def test_low_urgency_working_hours_step_waits_for_them(ts_env: WorkflowEnvironment, receivers: Receivers) -> None:
    now = await ts_env.get_current_time()
    tz = night_zone(now)  # a zone where it is about 03:00 now: working hours begin at 09:00, ~6 h away
    async with running(ts_env, config(receivers.url, tz=tz, after="12h")) as h:
        wid = await start(h, Severity.SEV3)
        await h.env.sleep(timedelta(hours=4))
        assert await receivers.sent() == [], "a working-hours step went out at night"
        await h.env.sleep(timedelta(hours=3))
        await until(receivers.sent, lambda sent: sent == ["sms"])
        st = await until(lambda: state(h, wid), lambda s: len(paged(s)) == 1)
        local = paged(st)[0].at.astimezone(ZoneInfo(tz))
        assert (local.hour, local.minute) == (9, 0), f"sent at {local}, not when working hours began"


def night_zone(now: datetime) -> str:
    """A fixed-offset zone in which `now` is between 02:00 and 04:00."""
    offset = (3 - now.hour) % 24
    if offset > 12:
        offset -= 24
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


async def test_a_step_being_retried_stops_on_ack(ts_env: WorkflowEnvironment, receivers: Receivers) -> None:
    receivers.twilio.down = True
    async with running(ts_env, config(receivers.url)) as h:
        wid = await start(h)
        await h.env.sleep(timedelta(minutes=2, seconds=40))
        st = await until(lambda: state(h, wid), lambda s: any(e.kind == "page_failed" for e in s.timeline))
        assert "twilio answered 503" in next(e.text for e in st.timeline if e.kind == "page_failed")
        await h.incidents.acknowledge(wid, Actor.human("alice"))
        receivers.twilio.down = False  # Twilio recovers after the acknowledgement: nothing more goes out
        await h.env.sleep(timedelta(minutes=20))
        assert await receivers.sent() == ["webhook"]
        st = await state(h, wid)
        dropped = [e for e in st.timeline if e.kind == "page_dropped"]
        assert len(dropped) == 1 and "acknowledged by human:alice" in dropped[0].text
