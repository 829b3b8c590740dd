"""Maintenance windows as an incident sees them: a window of its service holds escalation and queued notices (and
stops pages being tried) from the `maintenance` signal that says it started until the one that says it ended; an
incident still unacknowledged then escalates again from the level it had reached. Each is on the timeline.

Since "maintenance-windows": a run recorded before it never had the signal, so nothing it did changes.
"""

from __future__ import annotations

from temporalio import workflow

from incident import sentences as say
from incident.maintenance import Hold, Notice
from incident.models import Actor, Status
from incident.timeline import Kind
from workflows.incident.run import IncidentRun

MAINTENANCE_WINDOWS = "maintenance-windows"


class Maintenance:
    def __init__(self, run: IncidentRun) -> None:
        self.run = run

    @property
    def held(self) -> bool:
        st = self.run.state
        return st is not None and st.maintenance is not None

    def sendable(self) -> bool:
        """Whether the main loop has notices to send now: any, or while held only the pages someone asked for
        (a window holds escalation and what the incident tells people, not a page a person or agent requests)."""
        notices = self.run.notices
        if not notices or not self.held:
            return bool(notices)
        return any(page.kind == "page" for _, page in notices)

    def told(self, notice: Notice) -> None:
        run, st = self.run, self.run.state
        if st is None or not st.open or not self.run.patched(MAINTENANCE_WINDOWS):
            return
        now = workflow.now()
        data = {"window": notice.window_id, "target": notice.target}
        actor = Actor.system("maintenance")
        if notice.start:
            if st.maintenance is not None and st.maintenance.window_id == notice.window_id:
                return  # told twice (the activity retried)
            until = f"{notice.until:%Y-%m-%d %H:%M} UTC" if notice.until else "it ends"
            st.maintenance = Hold(window_id=notice.window_id, since=now, until=notice.until, message=notice.message)
            text = say.maintenance_held(notice.window_id, notice.target, notice.by, until, notice.message)
            run.record(actor, Kind.MAINTENANCE, text, data)
        elif notice.reopened:
            run.record(actor, Kind.MAINTENANCE_ENDED, say.maintenance_reopened(notice.window_id, notice.target), data)
        else:
            if st.maintenance is None or st.maintenance.window_id != notice.window_id:
                return  # not held by this window (or told twice)
            st.maintenance = None
            cur = st.escalation
            resumes = st.status is Status.TRIGGERED and cur.active
            if resumes:
                # Pages stopped while held: the level reached is paged again now, and escalation goes on from it.
                st.escalation = cur.model_copy(update={"level": max(cur.level - 1, 0), "next_at": now})
            text = say.maintenance_ended(notice.window_id, notice.target, notice.by, resumes)
            run.record(actor, Kind.MAINTENANCE_ENDED, text, data)
        run.wake = True
