"""What one run of an incident workflow holds, shared by the workflow and its helpers.

The policy in force, the state once the incident opened, the notices the main loop is to send, the work under way
that a continue-as-new must wait for, and the wake flag the loop waits on. Helpers receive this object rather than
the workflow, so each sees only what it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from incident import lifecycle
from incident.escalation import EscalationCursor
from incident.models import Actor, ActorKind, Page
from incident.record import tally
from incident.state import IncidentPolicy, IncidentState
from incident.timeline import Kind, entry
from workflows.details import render_details
from workflows.incident.versions import BASELINE, IMPLIED


class Rejected(ApplicationError):
    """A request the validator turns away: nothing is written."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="Refused", non_retryable=True)  # the type name is on the wire: clients read it


class IncidentRun:
    def __init__(self, policy: IncidentPolicy, state: IncidentState | None) -> None:
        self.policy = policy
        self.state = state
        self.baseline = workflow.patched(BASELINE)
        """This run takes every change in `versions.IMPLIED` (asked once, first: see `workflows.incident.versions`)."""
        self.wake = False
        """Set when something changed that the main loop must look at."""
        self.notices: list[tuple[list[str], Page]] = []
        """Messages to send from the main loop: (escalation targets, page)."""
        self.escalating: EscalationCursor | None = None
        """The cursor whose level the main loop is paging right now (None between steps)."""
        self.holds: list[Callable[[], bool]] = []
        """Each says whether some work of this run is still waiting or under way (an action queued or running,
        context still to come): the run continues as new only once none is (`quiet`)."""
        self.pages_in_flight = 0
        """Pages and follow-ups being delivered in the background of the main loop. They live in this run's memory
        only, so continuing as new waits until there are none (`quiet`): each ends once delivered, once the incident
        is acknowledged or resolved, or (a late page) an hour after its level's time ran out."""

    def count(self, actor: Actor, action: str, outcome: str) -> None:
        """Count what became of an agent's request, for its record (`incident.record`); people's are not counted.
        State only: no command."""
        st = self.state
        if st is None or actor.kind is not ActorKind.AGENT:
            return
        at = st.deciding_severity(actor).value
        tally(st.agent_tally, str(actor), at, action, outcome, self.policy.boundaries.actions())

    def patched(self, change: str) -> bool:
        """`workflow.patched(change)`, answered without a marker of its own where the run has the baseline."""
        if self.baseline and change in IMPLIED:
            return True
        return workflow.patched(change)

    def hold(self, busy: Callable[[], bool]) -> None:
        """Register work the run must finish (or hand over) before it continues as new."""
        self.holds.append(busy)

    def quiet(self) -> bool:
        """Nothing to send and nothing under way: what this run holds is all in the state it carries."""
        return not self.notices and not self.pages_in_flight and not any(busy() for busy in self.holds)

    def show(self) -> None:
        """Bring the Temporal UI's current details up to date: no command, so work beside the main loop (a page
        delivered) can show itself without waking the loop, whose every wake re-arms its deadline timer."""
        workflow.set_current_details(render_details(self.require(), self.policy))

    def require(self) -> IncidentState:
        if self.state is None:
            raise Rejected("the incident has not opened yet")
        return self.state

    def validate_open(self) -> None:
        if self.state is None:
            raise Rejected("the incident has not opened yet")
        if not self.state.open:
            raise Rejected(f"{self.state.incident_id} is already resolved")

    def record(self, actor: Actor, kind: Kind, text: str, data: dict[str, Any] | None = None) -> None:
        self.require().timeline.append(entry(workflow.now(), actor, kind, text, data))

    def apply(self, t: lifecycle.Transition) -> str:
        """Record what a transition wrote, queue its notices, and wake the main loop if it asks; its message."""
        self.require().timeline.extend(t.entries)
        for n in t.notices:
            self.tell(n.targets, n.kind, n.text, n.approval_id)
        self.wake = self.wake or t.wake
        return t.message

    def tell(self, targets: list[str], kind: str, text: str | None, approval_id: str | None = None) -> None:
        page = self.page(0, 0).model_copy(update={"kind": kind, "notice": text, "approval_id": approval_id})
        self.notices.append((targets, page))
        self.wake = True

    def responders(self) -> list[str]:
        return lifecycle.responders(self.require())

    def page(self, level: int, cycle: int) -> Page:
        """What a page (or a follow-up) says about the incident now."""
        st = self.require()
        links = []
        for rec in list(st.alerts.values())[:5]:
            links.extend(rec.links)
        return Page(
            incident_id=st.incident_id,
            workflow_id=st.workflow_id,
            title=st.title,
            service=st.service,
            severity=st.severity,
            status=st.status,
            level=level,
            levels=len(self.policy.escalation.levels),
            cycle=cycle,
            alert_count=st.alert_count,
            opened_at=st.opened_at,
            runbook=self.policy.service.runbook,
            links=links[:10],
            context=st.context,
            lead=st.lead,
        )
