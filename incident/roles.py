"""Who holds which role of an incident: what a role change must name, and what taking or handing one over writes.

Every incident with coordination has `lead`, plus the roles its policy lists (`coordination.roles`). A role goes
to a configured person only. Pure: the workflow (`workflows.incident.roles`) decides who may ask, and records what
comes back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from incident import sentences as say
from incident.coordination import LEAD
from incident.fields import unknown
from incident.lifecycle import Transition
from incident.models import Actor
from incident.state import IncidentPolicy, IncidentState
from incident.timeline import Kind

HUMANS_ONLY = "coordination.roles: humans only"
"""The rule an agent's attempt to take or assign a role is refused by: it may only propose someone."""


def before_roles(incident_id: str) -> str:
    """Why an incident whose policy snapshot has no `coordination` (one opened before it) takes no role."""
    return (
        f"{incident_id} has no roles: it opened before `coordination` was in its policy snapshot; "
        f"`baton reload {incident_id}` applies the config's policy to it, roles included"
    )


def known_roles(policy: IncidentPolicy) -> list[str]:
    """The roles this incident has: `lead`, then the policy's (none at all before coordination)."""
    return policy.coordination.all_roles if policy.coordination is not None else []


def problem(st: IncidentState, policy: IncidentPolicy, role: str, person: str | None) -> str | None:
    """Why a change of `role` to `person` cannot be: the incident has no roles, or not this one, or no such person
    is configured. None when it can."""
    if policy.coordination is None:
        return before_roles(st.incident_id)
    roles = known_roles(policy)
    if role not in roles:
        return unknown("role", role, roles)
    if person is not None and policy.people is not None and person not in policy.people:
        return unknown("person", person, policy.people, "in the config")
    return None


def assign(st: IncidentState, by: Actor, role: str, person: str, now: datetime, first_ack: bool = False) -> Transition:
    """`by` (a human) gives `role` to `person` (themselves: takes it). On the timeline with {role, person, from}."""
    before = st.roles.get(role)
    t = Transition(now, wake=True)
    if before == person:
        t.wake = False
        t.message = f"{person} already {'leads' if role == LEAD else 'holds ' + role}"
        return t
    st.roles[role] = person
    if person == by.name:
        text = say.role_taken(person, role, first_ack)
    else:
        text = say.role_handed(by.name, role, person, before)
    t.add(by, Kind.ROLE, text, {"role": role, "person": person, "from": before})
    t.message = f"{person} {'leads' if role == LEAD else 'holds ' + role + ' on'} {st.incident_id}"
    return t


def lead_deadline(st: IncidentState, policy: IncidentPolicy) -> tuple[datetime, timedelta] | None:
    """When nobody leading pages the incident commanders (`coordination.lead_within` at its severity), and the
    wait; None once someone leads, they were paged, or the severity has no such wait."""
    c = policy.coordination
    if c is None or not st.open or st.lead is not None or st.commanders_paged:
        return None
    within = c.lead_within.get(st.severity)
    return (st.opened_at + within, within) if within else None
