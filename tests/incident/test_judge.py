"""The judge: a scenario's expectations against what the drill saw, and what a failure says happened instead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incident.judge import Seen, SentPage, StepResult, check, check_step
from incident.models import Severity, TimelineEntry
from incident.scenario import Expectation, Step
from incident.state import IncidentState

ORIGIN = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
PAGES = [
    SentPage(at=timedelta(0), person="alice", kind="page", level=1),
    SentPage(at=timedelta(minutes=5), person="dave", kind="page", level=2),
    SentPage(at=timedelta(minutes=6), person="alice", kind="approval", level=1, approval_id="A1"),
]


def expect(**check_: object) -> Expectation:
    return Expectation.model_validate({"at": "10m", **check_})


def test_paged_reads_the_level_each_page_was_sent_at() -> None:
    seen = Seen(state=None, origin=ORIGIN, pages=PAGES)
    hit = check(expect(paged={"person": "dave", "level": 2}), seen)
    assert hit.passed and hit.got == "dave paged at level 2 at 5m"
    miss = check(expect(paged={"person": "dave", "level": 1}), seen)
    assert not miss.passed
    assert miss.sentence() == (
        "at 10m: expected dave paged at level 1; got: alice paged at level 1 at 0s, dave paged at level 2 at 5m; "
        "dave not at level 1"
    )


def test_an_approval_ask_is_not_a_page_of_the_escalation() -> None:
    seen = Seen(state=None, origin=ORIGIN, pages=PAGES)
    assert check(expect(not_paged={"person": "alice", "times": 2}), seen).passed
    asked = check(expect(asked={"person": "alice", "approval": "a1"}), seen)
    assert asked.passed and asked.got == "alice asked to decide A1 at 6m"


def test_what_needs_the_incident_fails_before_it_opens() -> None:
    got = check(expect(status="acknowledged"), Seen(state=None, origin=ORIGIN))
    assert not got.passed and got.got == "the incident has not opened"


def test_a_step_without_expect_only_has_to_be_carried_out() -> None:
    step = Step.model_validate({"at": "1m", "actor": "agent:triage", "do": "rollback", "params": {"version": 41}})
    done = check_step(step, StepResult("pending", "asked", "boundaries.agent.approval", "A1"))
    assert done.passed and done.expect == "agent:triage rollback (version=41) carried out"
    assert done.got == "pending (A1): boundaries.agent.approval"
    assert not check_step(step, StepResult("error", "no such incident")).passed


def test_a_step_expecting_a_refusal_checks_the_rule_too() -> None:
    step = Step.model_validate(
        {"at": "1m", "actor": "agent:triage", "do": "resolve", "expect": "refused", "rule": "autonomy"}
    )
    assert check_step(step, StepResult("refused", "no", "boundaries.autonomy.SEV0: read_only")).passed
    wrong_rule = check_step(step, StepResult("refused", "no", "boundaries.agent.never"))
    assert not wrong_rule.passed and "by a rule containing 'autonomy'" in wrong_rule.expect


def test_an_update_due_is_judged_by_its_entry_its_draft_and_who_was_told() -> None:
    due_at = ORIGIN + timedelta(minutes=30)
    st = IncidentState(
        incident_id="INC-7K2Q9M",
        workflow_id="w",
        title="t",
        service="checkout",
        severity=Severity.SEV1,
        opened_at=ORIGIN,
        timeline=[
            TimelineEntry(
                at=due_at,
                actor="system",
                kind="update_due",
                text="stakeholder update 1 is due",
                data={"update": 1, "draft": "Update 1 on …", "asked": ["user:alice"]},
            )
        ],
    )
    told = SentPage(at=timedelta(minutes=30), person="alice", kind="notice")
    seen = Seen(state=st, origin=ORIGIN, pages=[*PAGES, told])
    hit = check(expect(update={"asked": "alice"}), seen)
    assert hit.passed and hit.got == "update 1 due at 30m, asking user:alice"
    assert hit.expect == "stakeholder update 1 due and drafted, alice asked to send it"
    assert not check(expect(update={"asked": "alice"}), Seen(state=st, origin=ORIGIN, pages=PAGES)).passed
    lead = check(expect(update={"asked": "lead"}), seen)
    assert not lead.passed and lead.got.endswith("nobody leads")
    st.roles["lead"] = "alice"
    assert check(expect(update={"asked": "lead"}), seen).passed
    unsent = check(expect(update={"sent_by": "alice"}), seen)
    assert not unsent.passed and unsent.got.endswith("sent by nobody")
    later = check(expect(update={"number": 2}), seen)
    assert not later.passed and later.got == "update 2 has not fallen due (1 update(s) due so far)"
