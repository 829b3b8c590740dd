"""The incident's pure transitions: what each does to the state and what it writes on the timeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from incident import lifecycle
from incident import state as STATE
from incident.approvals import Approval, ApprovalStatus
from incident.links import Link
from incident.models import Actor, Alert, AlertAction, Severity, Status
from incident.postmortem import draft
from incident.state import IncidentPolicy, IncidentState
from incident.timeline import Kind, entry
from tests.helpers.config import make_config

T0 = datetime(2026, 3, 10, 2, 14, tzinfo=UTC)
ALICE = Actor.human("alice")


@pytest.fixture
def policy() -> IncidentPolicy:
    return IncidentPolicy.snapshot(make_config(), "checkout")


def event(
    action: AlertAction = AlertAction.TRIGGER,
    key: str = "",
    summary: str = "5xx",
    at: datetime = T0,
    event_id: str = "",
) -> Alert:
    return Alert(
        source="events",
        dedup_key="checkout-5xx",
        alert_key=key,
        action=action,
        summary=summary,
        service="checkout",
        severity=Severity.SEV2,
        received_at=at,
        event_id=event_id,
    )


def opened(policy: IncidentPolicy) -> IncidentState:
    st, t = lifecycle.open_incident(event(), "INC-1", "incident:test:checkout-5xx", policy, T0)
    st.timeline += t.entries
    st.timeline += lifecycle.record_alert(st, policy, event(), T0, set()).entries
    return st


def kinds(t: lifecycle.Transition) -> list[str]:
    return [e.kind for e in t.entries]


def test_opening_starts_escalation_and_the_agent_coordinates(policy: IncidentPolicy) -> None:
    st, t = lifecycle.open_incident(event(), "INC-1", "wid", policy, T0)
    assert st.status is Status.TRIGGERED and st.opened_at == T0
    assert st.escalation.due(T0), "level 1 is paged at once"
    assert st.severity_needs_confirmation, "checkout is customer facing"
    assert kinds(t) == ["opened", "coordination"]
    assert t.entries[0].text == "incident opened for checkout at SEV2" and t.entries[0].actor == "system:events"
    assert t.entries[1].actor == "agent:baton"


def test_alerts_are_counted_and_the_timeline_sums_up_past_twenty(policy: IncidentPolicy) -> None:
    st = opened(policy)
    for i in range(24):
        st.timeline += lifecycle.record_alert(
            st, policy, event(key=f"pod-{i % 3}", summary=f"burst {i}"), T0, set()
        ).entries
    assert st.alert_count == 25 and set(st.alerts) == {"checkout-5xx", "pod-0", "pod-1", "pod-2"}
    assert [e.kind for e in st.timeline].count("alert") == 20
    more = [e for e in st.timeline if e.kind == "alerts_more"]
    assert len(more) == 1 and more[0].text == "5 more alert event(s); latest: burst 23"
    assert st.timeline[-1] is more[0], "the running entry stays last among alert events"


def test_a_repeated_delivery_counts_once_and_does_not_wake(policy: IncidentPolicy) -> None:
    st, recent = opened(policy), set[str]()
    first = lifecycle.record_alert(st, policy, event(event_id="d1"), T0, recent)
    again = lifecycle.record_alert(st, policy, event(event_id="d1"), T0, recent)
    assert first.wake and not again.wake and not again.entries
    assert st.alert_count == 2 and st.duplicates == 1 and st.recent_events == ["d1"]


def test_every_alert_recovered_pauses_escalation_and_asks_the_responders(policy: IncidentPolicy) -> None:
    st = opened(policy)
    st.paged = ["alice"]
    t = lifecycle.record_alert(st, policy, event(AlertAction.RESOLVE, at=T0 + timedelta(seconds=1)), T0, set())
    assert kinds(t) == ["alert_recovered", "recovered"]
    assert not st.escalation.active and st.status is Status.TRIGGERED
    assert [(n.targets, n.kind) for n in t.notices] == [(["user:alice"], "recovered")]
    refire = lifecycle.record_alert(st, policy, event(at=T0 + timedelta(seconds=2)), T0 + timedelta(minutes=1), set())
    assert kinds(refire) == ["alert_refired", "alert"] and st.escalation.active


def test_a_recovery_older_than_the_last_change_is_noted_not_applied(policy: IncidentPolicy) -> None:
    st = opened(policy)
    t = lifecycle.record_alert(st, policy, event(AlertAction.RESOLVE, at=T0 - timedelta(seconds=1)), T0, set())
    assert kinds(t) == ["alert_late"] and st.firing and t.wake


def test_on_recovery_resolve_closes_the_incident(policy: IncidentPolicy) -> None:
    policy.service.on_recovery = "resolve"
    st = opened(policy)
    t = lifecycle.record_alert(st, policy, event(AlertAction.RESOLVE, at=T0 + timedelta(seconds=1)), T0, set())
    assert kinds(t) == ["alert_recovered", "resolved"] and st.status is Status.RESOLVED
    assert st.resolved_by == "system:events"


def test_acknowledge_stops_escalation_and_the_ack_timeout_restarts_it(policy: IncidentPolicy) -> None:
    st = opened(policy)
    t = lifecycle.acknowledge(st, policy, ALICE, T0, via_source=False)
    assert st.status is Status.ACKNOWLEDGED and not st.escalation.active and t.wake
    assert (
        t.entries[0].text
        == "acknowledged by human:alice; escalation stopped; back to triggered unless resolved within 30m"
    )
    assert st.ack_deadline == T0 + timedelta(minutes=30)
    assert not lifecycle.acknowledge(st, policy, ALICE, T0, via_source=False).entries, "once is enough"
    later = T0 + timedelta(minutes=30)
    t = lifecycle.ack_timed_out(st, policy, later)
    assert kinds(t) == ["ack_timeout"] and st.status is Status.TRIGGERED and st.escalation.due(later)
    assert st.acknowledged_by is None and st.ack_deadline is None


def test_close_leaves_no_approval_waiting(policy: IncidentPolicy) -> None:
    st = opened(policy)
    st.approvals.append(pending_approval())
    t = lifecycle.close(st, ALICE, "  rollback fixed it ", T0)
    assert st.status is Status.RESOLVED and st.resolution == "rollback fixed it"
    assert (
        t.entries[0].text == "resolved by human:alice: rollback fixed it"
        and t.message == "INC-1 resolved by human:alice"
    )
    assert st.approvals[0].status is ApprovalStatus.EXPIRED
    assert st.approvals[0].reason == "the incident was resolved before anyone decided"


def test_an_agent_proposes_the_more_severe_and_a_human_decides(policy: IncidentPolicy) -> None:
    st = opened(policy)
    triage = Actor.agent("triage")
    t = lifecycle.propose_severity(st, policy, triage, Severity.SEV1, "checkout down", T0)
    assert st.severity is Severity.SEV1 and t.message == "in force: SEV1 (proposed)"
    lifecycle.propose_severity(st, policy, triage, Severity.SEV3, "maybe not", T0)
    assert st.severity is Severity.SEV1, "the more severe stays in force"
    t = lifecycle.set_severity(st, ALICE, Severity.SEV2, "", T0)
    assert t.entries[0].text == "severity set to SEV2 (was SEV1 (proposed))" and st.severity_label == "SEV2"
    t = lifecycle.propose_severity(st, policy, triage, Severity.SEV0, "worse", T0)
    assert st.severity is Severity.SEV2 and not t.wake
    assert t.entries[0].text == "proposes SEV0: worse (SEV2 was set by human:alice; it stays)"


def pending_approval() -> Approval:
    return Approval(
        id="A1",
        action="rollback",
        params={"version": "v41"},
        rationale="v42 is the only change",
        requested_by="agent:triage",
        requested_at=T0,
        rule="boundaries.agent.approval",
        deadline=T0 + timedelta(minutes=15),
    )


def test_a_more_severe_trigger_proposes_its_severity_a_milder_or_late_one_changes_nothing(
    policy: IncidentPolicy,
) -> None:
    st = opened(policy)
    worse = event(summary="down everywhere").model_copy(update={"severity": Severity.SEV1})
    t = lifecycle.record_alert(st, policy, worse, T0, set())
    assert kinds(t) == ["alert", "severity_proposed"] and t.entries[1].actor == "system:events"
    assert t.entries[1].text == "proposes SEV1: a more severe alert joined: down everywhere; in force: SEV1 (proposed)"
    assert st.severity is Severity.SEV1 and t.wake
    milder = event().model_copy(update={"severity": Severity.SEV4})
    assert kinds(lifecycle.record_alert(st, policy, milder, T0, set())) == ["alert"]
    assert st.severity is Severity.SEV1
    recovery = event(AlertAction.RESOLVE).model_copy(update={"severity": Severity.SEV0})
    lifecycle.record_alert(st, policy, recovery, T0, set())
    assert st.severity is Severity.SEV1, "only a trigger proposes"


def test_a_trigger_leaves_a_human_set_severity_and_old_incidents_alone(policy: IncidentPolicy) -> None:
    st = opened(policy)
    lifecycle.set_severity(st, ALICE, Severity.SEV3, "one pod", T0)
    worst = event().model_copy(update={"severity": Severity.SEV0})
    assert not lifecycle.raises_severity(st, worst)
    lifecycle.record_alert(st, policy, worst, T0, set())
    assert st.severity is Severity.SEV3
    before = opened(policy)
    lifecycle.record_alert(before, policy, worst, T0, set(), severity_proposals=False)
    assert before.severity is Severity.SEV2


def test_an_unanswered_approval_asks_the_next_level_then_expires(policy: IncidentPolicy) -> None:
    st = opened(policy)
    st.paged, st.top_level = ["alice"], 1
    approval = pending_approval()
    st.approvals.append(approval)
    t = lifecycle.approval_timed_out(st, policy, approval, approval.deadline)
    assert kinds(t) == ["approval_escalated"] and t.entries[0].data == {"approval": "A1", "level": 2}
    assert [(n.targets, n.kind, n.approval_id) for n in t.notices] == [(["user:dave"], "approval", "A1")]
    assert approval.pending and approval.deadline == T0 + timedelta(minutes=30) and approval.level == 2
    assert st.top_level == 1, "asking level 2 about an approval is not paging level 2 into the incident"
    t = lifecycle.approval_timed_out(st, policy, approval, approval.deadline)
    assert kinds(t) == ["approval_expired"] and approval.status is ApprovalStatus.EXPIRED
    assert (
        t.notices[0].targets == ["user:alice"]
        and t.notices[0].text == "Approval A1 (rollback (version=v41)) expired unanswered."
    )


def test_each_approval_escalates_on_its_own_level(policy: IncidentPolicy) -> None:
    st = opened(policy)
    st.paged, st.top_level = ["alice"], 1
    first, second = pending_approval(), pending_approval().model_copy(update={"id": "A2"})
    st.approvals += [first, second]
    for approval in (first, second):
        t = lifecycle.approval_timed_out(st, policy, approval, approval.deadline)
        assert t.entries[0].data == {"approval": approval.id, "level": 2}
    assert st.top_level == 1


def test_before_the_patch_an_approvals_escalation_raised_the_incidents_level(policy: IncidentPolicy) -> None:
    st = opened(policy)
    st.paged, st.top_level = ["alice"], 1
    approval = pending_approval()
    st.approvals.append(approval)
    lifecycle.approval_timed_out(st, policy, approval, approval.deadline, own_level=False)
    assert st.top_level == 2 and approval.level == 0


def test_reload_keeps_escalation_within_the_new_levels(policy: IncidentPolicy) -> None:
    st = opened(policy)
    st.escalation = st.escalation.model_copy(update={"level": 1})
    st.top_level = 2
    fewer = policy.escalation.model_copy(update={"levels": policy.escalation.levels[:1]})
    t = lifecycle.reload(st, policy, policy.model_copy(update={"escalation": fewer}), ALICE, T0)
    assert st.escalation.level == 0 and st.top_level == 1
    assert t.message == "policy reloaded (escalation)"
    assert t.entries[0].text == "human:alice reloaded the policy from the config: escalation"
    assert lifecycle.reload(st, policy, policy, ALICE, T0).message == "policy reloaded (nothing changed)"


def test_a_hurried_level_makes_the_next_one_due_the_moment_it_is_paged(policy: IncidentPolicy) -> None:
    st = opened(policy)
    cur = st.escalation
    cur.hurry()
    after = cur.advance(policy.escalation, T0, skipped=False)
    assert after.level == 1 and after.next_at == T0 and not after.next_now
    waits = after.advance(policy.escalation, T0, skipped=False)
    assert waits.next_at == T0 + policy.escalation.levels[1].after, "only the level asked about is hurried"
    lifecycle.acknowledge(st, policy, ALICE, T0, via_source=False)
    assert not st.escalation.next_now, "an acknowledgement drops the hurry with the escalation"


# ---- what the state keeps, and what a run carries into the next ------------------------------------------------


def test_what_the_state_keeps_of_an_alert_is_bounded(policy: IncidentPolicy) -> None:
    st = opened(policy)
    big = event(key="big", summary="s" * 10_000, event_id="e" * 10_000).model_copy(
        update={
            "labels": {f"label{i}": "v" * 500 for i in range(200)},
            "details": {"dump": "x" * 100_000},
            "links": [Link(href="https://x.example/" + "p" * 5_000, text="t")] * 50,
        }
    )
    recent: set[str] = set()
    t = lifecycle.record_alert(st, policy, big, T0, recent)
    rec = st.alerts["big"]
    assert len(rec.summary) <= STATE.SUMMARY_KEPT and len(rec.links) <= STATE.LINKS_KEPT
    assert len(json.dumps(rec.labels)) <= STATE.LABELS_KEPT + 100 and rec.labels
    assert "full payload is in the incident's history" in rec.details["truncated"]
    assert all(len(e.text) < 1_000 for e in t.entries)
    assert all(len(i) <= 128 for i in st.recent_events)
    again = lifecycle.record_alert(st, policy, big, T0, recent)
    assert st.duplicates == 1 and not again.entries, "a long delivery id is still recognised when retried"


def many_notes(policy: IncidentPolicy, n: int) -> IncidentState:
    st = opened(policy)
    for i in range(n):
        st.timeline.append(entry(T0 + timedelta(seconds=i), ALICE, Kind.NOTE, f"note {i}: " + "n" * 3_000))
    return st


def test_a_run_carries_the_story_and_the_latest_entries_and_counts_the_rest(policy: IncidentPolicy) -> None:
    st = many_notes(policy, 1_000)
    st.timeline.append(entry(T0 + timedelta(hours=1), ALICE, Kind.ACKNOWLEDGED, "acknowledged"))
    carried = st.carried(STATE.CARRY[0])
    kept = [e.kind for e in carried.timeline]
    assert kept[:3] == ["opened", "coordination", "alert"], "the story's beginning"
    assert kept[-1] == "acknowledged" and kept.count("note") == STATE.CARRY[0].recent - 1
    assert carried.timeline_left == len(st.timeline) - len(carried.timeline)
    assert all(len(e.text) <= STATE.CARRY[0].text for e in carried.timeline)
    again = carried.carried(STATE.CARRY[0])
    assert again.timeline_left == carried.timeline_left, "carrying what fits leaves nothing more behind"
    assert st.timeline[-1].kind == "acknowledged" and len(st.timeline) > 1_000, "the run's own state is untouched"
    carried.runs = 3
    assert f"{carried.timeline_left} earlier timeline entries are not shown" in draft(carried)
    assert "earlier runs (runs 1 to 2" in draft(carried)


def test_carrying_keeps_what_waits_and_approval_ids_go_on(policy: IncidentPolicy) -> None:
    st = opened(policy)
    for i in range(30):
        status = ApprovalStatus.PENDING if i in (3, 29) else ApprovalStatus.DENIED
        st.approvals.append(
            Approval(
                id=st.next_approval_id(),
                action="rollback",
                rationale="r",
                requested_by="agent:triage",
                requested_at=T0,
                rule="boundaries.agent.approval",
                deadline=T0 + timedelta(minutes=15),
                status=status,
            )
        )
    carried = st.carried(STATE.CARRY[1])
    ids = [a.id for a in carried.approvals]
    assert "A4" in ids and "A30" in ids and len(ids) == 2 + STATE.CARRY[1].decided_approvals
    assert carried.next_approval_id() == "A31"


def test_the_smallest_carry_counts_the_alerts_it_no_longer_tracks(policy: IncidentPolicy) -> None:
    st = opened(policy)
    for i in range(150):
        lifecycle.record_alert(st, policy, event(key=f"pod-{i}"), T0, set())
    carried = st.carried(STATE.CARRY[-1])
    assert not carried.alerts and carried.alerts_untracked == len(st.alerts) + st.alerts_untracked
    assert carried.firing, "alerts only counted are taken as still firing"


def test_reload_says_when_the_shadow_policy_changed(policy: IncidentPolicy) -> None:
    st = opened(policy)
    shadow = policy.boundaries.model_copy(update={"two_person": ["rollback"]})
    t = lifecycle.reload(st, policy, policy.model_copy(update={"shadow": shadow}), ALICE, T0)
    assert t.message == "policy reloaded (shadow)"


def test_an_agents_tally_past_its_bound_still_fits_what_the_record_takes() -> None:
    from incident.record import MAX_TALLY_ROWS, AgentIncident, Tally, rows_for, tally

    rows: list[Tally] = []
    named = [f"action{i}" for i in range(60)]
    for sev in ("SEV0", "SEV1", "SEV2", "SEV3", "SEV4"):
        for action in named:
            tally(rows, "agent:triage", sev, action, "asked", named)
    assert len(rows) > MAX_TALLY_ROWS  # the state keeps an (other) row per severity past the bound
    kept = rows_for(rows, "agent:triage")
    AgentIncident(
        agent="triage", incident_id="INC-1", severity="SEV1", resolved=True, completed_at=datetime.now(UTC), rows=kept
    )
