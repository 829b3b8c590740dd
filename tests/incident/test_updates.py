"""Stakeholder updates as pure functions: the cadence per severity, who is asked, and the draft from the timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.render import update_line
from incident.context import Change, PageContext, Suspect
from incident.models import Actor, AlertRecord, Severity
from incident.state import IncidentPolicy, IncidentState
from incident.timeline import Kind, entry
from incident.updates import DRAFT_LIMIT, UpdatesState, draft, next_due, remind_after, senders
from tests.helpers.config import make_config

OPENED = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
CONFIG = """
coordination:
  roles: [comms]
  updates:
    every: {SEV0: 15m, SEV1: 30m, SEV2: 1h}
    internal: ["slack:#support"]
"""


def policy() -> IncidentPolicy:
    return IncidentPolicy.snapshot(make_config(extra=CONFIG), "checkout")


def incident(severity: Severity = Severity.SEV1) -> IncidentState:
    st = IncidentState(
        incident_id="INC-7K2Q9M",
        workflow_id="incident:test:k",
        title="checkout 5xx above 5%",
        service="checkout",
        severity=severity,
        opened_at=OPENED,
        paged=["alice", "dave"],
    )
    st.alerts["a"] = AlertRecord(key="a", summary="checkout 5xx above 5%", count=3, first_at=OPENED, last_at=OPENED)
    st.alerts["b"] = AlertRecord(
        key="b", summary="p99 above 2s", count=1, first_at=OPENED, last_at=OPENED, firing=False
    )
    return st


def test_the_cadence_is_the_severity_in_force_counted_from_the_last_update_sent() -> None:
    settings = policy().coordination.updates  # type: ignore[union-attr]
    st, upd = incident(), UpdatesState()
    assert next_due(settings, st, upd) == OPENED + timedelta(minutes=30)
    st.severity = Severity.SEV0
    assert next_due(settings, st, upd) == OPENED + timedelta(minutes=15), "a severity change re-reads the cadence"
    upd.last_sent_at = OPENED + timedelta(minutes=20)
    assert next_due(settings, st, upd) == OPENED + timedelta(minutes=35)
    st.severity = Severity.SEV3
    assert next_due(settings, st, upd) is None, "no cadence at SEV3: no update falls due"
    st.severity = Severity.SEV2
    assert remind_after(settings, st) == timedelta(minutes=20), "a third of the cadence"
    assert remind_after(settings.model_copy(update={"remind_after": timedelta(minutes=5)}), st) == timedelta(minutes=5)


def test_comms_then_the_lead_then_everyone_paged_is_asked() -> None:
    st, pol = incident(), policy()
    assert senders(st, pol) == ["user:alice", "user:dave"]
    st.roles["lead"] = "dave"
    assert senders(st, pol) == ["user:dave"]
    st.roles["comms"] = "bob"
    assert senders(st, pol) == ["user:bob"]
    nobody = incident()
    nobody.paged = []
    assert senders(nobody, pol) == ["user:alice"], "nobody paged yet: the first escalation level"


def test_the_draft_says_impact_what_is_known_what_is_done_and_when_next() -> None:
    st, pol = incident(), policy()
    deploy = Change(service="checkout", version="v2.41", author="bob", at=OPENED - timedelta(minutes=20))
    st.context = PageContext(suspects=[Suspect(change=deploy, before=timedelta(minutes=20))])
    st.roles["lead"] = "dave"
    at = OPENED + timedelta(minutes=5)
    st.timeline += [
        entry(at, Actor.human("alice"), Kind.NOTE, "only eu-west\nis affected"),
        entry(at, Actor.human("alice"), Kind.ACTION_RAN, "rollback (A1) ran: v2.40 deployed"),
    ]
    now = OPENED + timedelta(minutes=30)
    text = draft(st, pol, now, now + timedelta(minutes=30))
    lines = text.splitlines()
    assert lines[0] == "Update 1 on INC-7K2Q9M (SEV1): checkout 5xx above 5%"
    assert lines[1] == "Impact: checkout (customer-facing), affected since 02:00 UTC (30 min)."
    assert lines[2].startswith("What we know: Severity SEV1. 1 alert(s) firing: checkout 5xx above 5%.")
    assert "checkout v2.41 deployed by bob 20 min before the alert" in lines[2]
    assert "Notes: only eu-west is affected (alice)." in lines[2], "a note stays on one line"
    assert lines[3] == "What we are doing: dave leads. Actions: rollback (A1) ran: v2.40 deployed."
    assert lines[4] == "Next update by 03:00 UTC."


def test_the_next_draft_tells_only_what_came_since_the_last_update() -> None:
    st, pol = incident(), policy()
    st.timeline.append(entry(OPENED + timedelta(minutes=5), Actor.human("alice"), Kind.NOTE, "old news"))
    st.updates = UpdatesState(sent=1, last_sent_at=OPENED + timedelta(minutes=10))
    st.timeline.append(entry(OPENED + timedelta(minutes=20), Actor.human("bob"), Kind.NOTE, "fresh news"))
    text = draft(st, pol, OPENED + timedelta(minutes=40), None)
    assert text.startswith("Update 2 on") and "fresh news (bob)" in text and "old news" not in text
    assert "Responding: alice, dave." in text and text.endswith("Next update when there is news.")


def test_the_draft_is_bounded() -> None:
    st, pol = incident(), policy()
    at = OPENED + timedelta(minutes=1)
    st.timeline += [entry(at, Actor.human("alice"), Kind.NOTE, "x" * 4000) for _ in range(20)]
    st.title = "t" * 500
    text = draft(st, pol, OPENED + timedelta(minutes=30), None)
    assert len(text) <= DRAFT_LIMIT and "(and 17 more notes)" in text


def test_baton_show_says_when_the_next_update_is_due_and_who_is_asked() -> None:
    opened = datetime(2026, 12, 2, 7, 19, tzinfo=UTC)
    st = IncidentState(
        incident_id="INC-7K2Q9M",
        workflow_id="w",
        title="t",
        service="checkout",
        severity=Severity.SEV1,
        opened_at=opened,
    )
    assert update_line(st) is None  # no cadence: nothing to say
    st.updates = UpdatesState(due_at=opened + timedelta(minutes=30))
    assert update_line(st) == "update 1 at 07:49 UTC"
    st.updates = UpdatesState(due_at=opened + timedelta(minutes=30), pending=True, asked=["user:bob"], sent=1)
    assert update_line(st) == "update 2 due since 07:49 UTC, asked: bob (baton update INC-7K2Q9M)"
