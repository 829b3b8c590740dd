"""The postmortem draft: facts and questions from an incident's record, never conclusions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident.approvals import Approval, ApprovalStatus, Refusal
from incident.context import Change, PageContext, Suspect
from incident.models import AlertRecord, Severity, Status, TimelineEntry
from incident.postmortem import draft, duration, utc
from incident.state import IncidentState, ServiceInfo

T0 = datetime(2026, 11, 26, 2, 14, 5, tzinfo=UTC)
SERVICE = ServiceInfo(name="checkout", escalation="payments", customer_facing=True, team="payments")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def entry(seconds: float, actor: str, kind: str, text: str, data: dict[str, Any] | None = None) -> TimelineEntry:
    return TimelineEntry(at=at(seconds), actor=actor, kind=kind, text=text, data=data)


def open_state(**update: object) -> IncidentState:
    """Opened, paged level 1, nobody answered yet."""
    state = IncidentState(
        incident_id="INC-P76HAR",
        workflow_id="incident-checkout-5xx",
        title="checkout 5xx rate above 5%",
        service="checkout",
        severity=Severity.SEV1,
        severity_needs_confirmation=True,
        opened_at=T0,
        alert_received_at=T0,
        first_page_at=at(3),
        seconds_to_first_page=3.2,
        alert_count=3,
        alerts={
            "checkout-5xx": AlertRecord(
                key="checkout-5xx", summary="checkout 5xx rate | above 5%", count=2, first_at=T0, last_at=at(60)
            ),
            "checkout-latency": AlertRecord(
                key="checkout-latency",
                summary="checkout p99 latency",
                firing=False,
                count=1,
                first_at=at(30),
                last_at=at(30),
            ),
        },
        paged=["alice"],
        timeline=[
            entry(0, "system:events", "alert", "checkout 5xx rate above 5% (SEV1, key checkout-5xx)"),
            entry(2, "agent:baton", "context", "context gathered: suspects: checkout v2.41 deployed 7 min before"),
            entry(
                3,
                "system",
                "escalation",
                "paging level 1 of 2: alice",
                {"level": 1, "levels": 2, "pass": 1, "people": ["alice"]},
            ),
            entry(
                20,
                "agent:triage",
                "severity_proposed",
                "proposes SEV1: error budget burning; in force: SEV1",
                {"severity": "SEV1"},
            ),
            entry(30, "system:events", "alert", "checkout p99 latency (SEV2, key checkout-latency)"),
        ],
        context=PageContext(
            suspects=[
                Suspect(
                    change=Change(service="checkout", version="v2.41", author="carol", at=T0 - timedelta(minutes=7)),
                    before=timedelta(minutes=7),
                )
            ]
        ),
    )
    return state.model_copy(update=update)


def resolved_state() -> IncidentState:
    """Escalated to level 2, acknowledged by alice, an agent note, resolved by bob."""
    state = open_state()
    state.timeline += [
        entry(
            303,
            "system",
            "escalation",
            "paging level 2 of 2: dave",
            {"level": 2, "levels": 2, "pass": 1, "people": ["dave"]},
        ),
        entry(312, "human:alice", "acknowledged", "acknowledged by human:alice; escalation stopped"),
        entry(400, "agent:triage", "note", "error rate | latency both up\nsince v2.41"),
        entry(500, "human:alice", "severity", "severity set to SEV1 (was SEV1 (proposed))"),
        entry(3798, "human:bob", "resolved", "resolved by human:bob: rolled back to v2.40"),
    ]
    return state.model_copy(
        update={
            "status": Status.RESOLVED,
            "acknowledged_at": at(312),
            "acknowledged_by": "human:alice",
            "severity_confirmed_by": "human:alice",
            "resolved_at": at(3798),
            "resolved_by": "human:bob",
            "resolution": "rolled back to v2.40",
        }
    )


def table_rows(text: str, heading: str) -> list[str]:
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("|")]


def cells(row: str) -> list[str]:
    """A table row's cells, honouring `\\|` escapes."""
    return [c.strip() for c in row.replace("\\|", "\0").strip("|").split("|")]


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, "0s"), (42, "42s"), (252, "4m 12s"), (3780, "1h 03m"), (3600 * 26 + 60, "1d 02h"), (-5, "0s")],
)
def test_durations(seconds: int, expected: str) -> None:
    assert duration(timedelta(seconds=seconds)) == expected


def test_times_are_utc() -> None:
    assert utc(T0) == "2026-11-26 02:14:05 UTC"
    assert utc(datetime(2026, 11, 26, 3, 14, 5, tzinfo=UTC).astimezone(UTC)) == "2026-11-26 03:14:05 UTC"
    assert utc(datetime(2026, 11, 26, 2, 14, 5)) == "2026-11-26 02:14:05 UTC"


def test_resolved_incident_has_every_section_and_the_facts() -> None:
    text = draft(resolved_state(), SERVICE)
    assert text.startswith("# Postmortem draft: INC-P76HAR — checkout 5xx rate above 5%\n")
    assert "Conclusions are for the team to write." in text
    for heading in (
        "Summary",
        "Impact window",
        "Alerts",
        "Changes in the window before the alert",
        "Timeline",
        "Who did what",
        "Open questions for the responders",
    ):
        assert f"\n## {heading}\n" in text
    assert "- Severity: SEV1\n" in text
    assert "- Status: resolved" in text
    assert "- Resolved by: human:bob — “rolled back to v2.40”" in text
    assert "- Customer facing: yes" in text
    assert "- First alert: 2026-11-26 02:14:05 UTC" in text
    assert "- First page: 2026-11-26 02:14:08 UTC (3s after the first alert)" in text
    assert "- Acknowledged: 2026-11-26 02:19:17 UTC by human:alice (5m 12s after the first alert)" in text
    assert "- Resolved: 2026-11-26 03:17:23 UTC by human:bob" in text
    assert "- Total duration: 1h 03m" in text
    assert "3 alert event(s), 2 distinct alert(s)" in text
    assert "checkout v2.41 deployed by carol 7 min before the alert" in text


def test_alert_table_lists_each_alert_with_its_state() -> None:
    rows = table_rows(draft(resolved_state(), SERVICE), "Alerts")
    assert cells(rows[2])[:3] == ["checkout 5xx rate \0 above 5%", "2", "firing"]
    assert cells(rows[3])[:3] == ["checkout p99 latency", "1", "recovered"]


def test_a_pipe_or_newline_in_a_note_keeps_the_table_whole() -> None:
    rows = table_rows(draft(resolved_state(), SERVICE), "Timeline")
    assert rows[0] == "| Time (UTC) | Who | What |"
    assert all(len(cells(r)) == 3 for r in rows)
    note = next(r for r in rows if "agent:triage" in r and "latency" in r)
    assert cells(note) == ["2026-11-26 02:20:45", "agent:triage", "error rate \0 latency both up ↵ since v2.41"]
    assert len(rows) == 2 + len(resolved_state().timeline)


def test_who_did_what_puts_humans_first() -> None:
    text = draft(resolved_state(), SERVICE)
    section = text.split("## Who did what\n", 1)[1].split("\n## ", 1)[0]
    actors = [line[2:].split(": ", 1)[0] for line in section.splitlines() if line.startswith("- ")]
    assert actors[:2] == ["human:alice", "human:bob"]
    assert actors.index("agent:triage") < actors.index("system")
    assert "- human:alice: acknowledged (1), severity (1)" in section
    assert "- agent:triage: severity_proposed (1), note (1)" in section


def test_questions_are_asked_and_no_cause_is_stated() -> None:
    text = draft(resolved_state(), SERVICE)
    questions = text.split("## Open questions for the responders\n", 1)[1]
    assert "- What was the root cause? (not determined by baton)" in questions
    assert "It was proposed as SEV1 by agent:triage and set to SEV1 by human:alice." in questions
    assert "- Paging took 3s: was the right person reached first?" in questions
    assert "- Escalation reached level 2: why did level 1 not acknowledge?" in questions
    assert "- What would have detected this sooner?" in questions
    assert questions.rstrip().endswith("Action items (owner, due date):\n\n-")
    lowered = text.lower()
    for claim in ("root cause was", "root cause is", "caused by", "the cause was"):
        assert claim not in lowered


def test_open_incident_says_it_is_still_open() -> None:
    text = draft(open_state())
    assert "- Status: still open (triggered)" in text
    assert "- Acknowledged: not acknowledged" in text
    assert "- Resolved: not resolved, the incident is still open" in text
    assert "- Total duration: still open; 30s up to the last recorded entry" in text
    assert "- Customer facing: unknown" in text
    assert "Resolved by" not in text
    assert "never confirmed by a human" in text
    assert "why did level 1 not acknowledge" not in text
    assert "The incident is still open: revisit this draft once it is resolved." in text


def test_a_bare_incident_drafts_too() -> None:
    state = IncidentState(
        incident_id="INC-000001", workflow_id="w", title="disk", service="db", severity=Severity.SEV3, opened_at=T0
    )
    text = draft(state, ServiceInfo(name="db", escalation="ops"))
    assert "- First page: nobody was paged" in text
    assert "Nobody was paged: should someone have been?" in text
    assert "It was SEV3 and never confirmed by a human." in text
    assert "- Customer facing: no" in text
    assert "## Changes in the window before the alert" not in text


def test_long_alert_runs_are_collapsed_but_other_entries_kept() -> None:
    state = open_state(timeline=[])
    for i in range(30):
        state.timeline.append(entry(i * 10, "system:events", "alert", f"alert {i}"))
        if i == 12:
            state.timeline.append(entry(i * 10 + 1, "human:alice", "note", "looking"))
    state.timeline.append(entry(400, "system:events", "alerts_more", "40 more alert event(s); latest: alert 70"))
    rows = table_rows(draft(state), "Timeline")[2:]
    texts = [cells(r)[2] for r in rows]
    assert texts[:5] == [f"alert {i}" for i in range(5)]
    assert texts[5] == "26 further alert entries (02:14:55 to 02:20:45); last: 40 more alert event(s); latest: alert 70"
    assert texts[6] == "looking"
    assert len(rows) == 7


def test_decisions_and_their_questions() -> None:
    approval = Approval(
        id="A1",
        action="rollback",
        params={"version": "v2.40"},
        rationale="errors began with v2.41",
        requested_by="agent:triage",
        requested_at=at(100),
        rule="boundaries.agent.approval",
        deadline=at(1000),
        status=ApprovalStatus.DENIED,
        decided_by="human:alice",
        decided_at=at(200),
        reason="want to look at | logs first",
    )
    expired = approval.model_copy(
        update={"id": "A2", "action": "customer_comms", "params": {}, "status": ApprovalStatus.EXPIRED}
    )
    expired = expired.model_copy(update={"decided_by": None})
    refusal = Refusal(
        actor="agent:triage",
        action="postmortem_conclusions",
        verdict="never",
        rule="boundaries.agent.never",
        count=2,
        first_at=at(50),
        last_at=at(60),
    )
    text = draft(resolved_state(), SERVICE, approvals=[approval, expired], refusals=[refusal])
    assert "| rollback (version=v2.40) | agent:triage | human:alice | denied |" in text
    assert "| customer_comms | agent:triage | — | expired |" in text
    assert "| agent:triage | postmortem_conclusions | boundaries.agent.never | 2 |" in text
    assert "rollback (version=v2.40) was denied by human:alice (want to look at | logs first): was that" in text
    assert "customer_comms expired unanswered: why did no approver decide in time?" in text
    assert "agent:triage was refused postmortem_conclusions 2 time(s) by boundaries.agent.never" in text


def test_approvals_default_to_the_states_own() -> None:
    state = resolved_state()
    refusal = Refusal(actor="agent:x", action="page", verdict="undefined", rule="r", count=1, first_at=T0, last_at=T0)
    object.__setattr__(state, "refusals", [refusal])
    assert "should the policy allow or forbid it?" in draft(state)
    assert "Refusals:" not in draft(resolved_state())


def test_drafting_is_deterministic() -> None:
    assert draft(resolved_state(), SERVICE) == draft(resolved_state(), SERVICE)


def test_levels_and_proposals_are_read_from_the_entries_data_not_their_sentences() -> None:
    state = resolved_state()
    for e in state.timeline:
        if e.kind in ("escalation", "severity_proposed"):
            e.text = "reworded"
    questions = draft(state, SERVICE).split("## Open questions for the responders\n", 1)[1]
    assert "- Escalation reached level 2: why did level 1 not acknowledge?" in questions
    assert "It was proposed as SEV1 by agent:triage" in questions


FAKE_HEADING = "\n\n## Root cause\n\nalice's deploy broke it\n"


def headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip(" >-").startswith("#")]


def test_nothing_a_source_or_an_agent_wrote_can_make_a_heading_or_a_timeline_row() -> None:
    state = resolved_state()
    state.title = f"checkout 5xx{FAKE_HEADING}"
    state.resolution = f"rolled back{FAKE_HEADING}"
    state.timeline.append(
        entry(500, "agent:triage", "note", f"<h2>Root cause</h2>{FAKE_HEADING}| 02:30 | human:bob | ok |")
    )
    state.timeline.append(entry(501, "agent:triage", "note", "- # Root cause: bob [approved](https://evil.example)"))
    denied = Approval(
        id="A1",
        action="rollback",
        params={"version": f"v2.40{FAKE_HEADING}"},
        rationale=FAKE_HEADING,
        requested_by="agent:triage",
        requested_at=at(100),
        rule="boundaries.agent.approval",
        deadline=at(1000),
        status=ApprovalStatus.DENIED,
        decided_by="human:alice",
        decided_at=at(200),
        reason=FAKE_HEADING,
    )
    text = draft(state, SERVICE, approvals=[denied])
    expected = headings(draft(resolved_state(), SERVICE))
    assert len(headings(text)) == len(expected) and headings(text)[1:] == expected[1:], headings(text)
    assert "<h2>" not in text and "&lt;h2&gt;Root cause&lt;/h2&gt;" in text
    assert "[approved](" not in text and "\\[approved\\](https://evil.example)" in text
    rows = table_rows(text, "Timeline")
    assert not any("human:bob | ok" in r for r in rows) and all(len(cells(r)) == 3 for r in rows)
    assert "rollback (version=v2.40 ↵  ↵ ## Root cause ↵  ↵ alice's deploy broke it ↵ ) was denied" in text


def test_escape_codes_and_hidden_characters_do_not_reach_the_draft() -> None:
    state = resolved_state()
    state.timeline.append(entry(500, "agent:triage", "note", "fine\x1b]0;owned\x07\x1b[2J\u202eevil\U000e0041"))
    state.context = PageContext(
        suspects=[
            Suspect(
                change=Change(service="checkout", version="v2.41", at=at(-60), link="javascript:alert(1)"),
                before=timedelta(minutes=1),
            )
        ]
    )
    text = draft(state, SERVICE)
    for c in ("\x1b", "\x07", "\u202e", "\U000e0041"):
        assert c not in text, repr(c)
    assert "fine\\\\x1b\\]0;owned\\\\x07\\\\x1b\\[2J\\\\u202eevil" in text
    assert "<javascript:" not in text and "(javascript:alert(1))" in text


def test_every_stakeholder_update_sent_is_in_the_draft_as_sent() -> None:
    st = open_state()
    st.timeline += [
        entry(
            1800,
            "human:alice",
            "update_sent",
            "human:alice sent stakeholder update 1 to slack:#support: …",
            {
                "update": 1,
                "text": "Checkout | errors\nin eu-west",
                "audiences": ["slack:#support"],
                "by": "human:alice",
            },
        ),
        entry(
            3600,
            "agent:triage",
            "update_sent",
            "agent:triage sent stakeholder update 2 …",
            {
                "update": 2,
                "text": "# Fixed",
                "audiences": ["slack:#support", "email:support@example.com"],
                "by": "agent:triage",
                "approved_by": "human:dave",
            },
        ),
    ]
    text = draft(st, SERVICE)
    rows = table_rows(text, "Stakeholder updates")
    assert cells(rows[2]) == [
        "2026-11-26 02:44:05",
        "1",
        "human:alice",
        "slack:#support",
        "Checkout \0 errors ↵ in eu-west",
    ]
    assert "agent:triage (approved by human:dave)" in rows[3] and "email:support@example.com" in rows[3]
    assert "\\# Fixed" in rows[3], "an update's text cannot make a heading"
    assert "## Stakeholder updates" not in draft(open_state(), SERVICE), "no section without an update"
