"""Step-up: a judgment call (`boundaries.step_up`) is a human's only when the gateway vouches that the person is
present, by a Slack interaction Slack signed or a one-time code from their authenticator app, not by a token alone
(an agent with a shell can read a token; it cannot press alice's Slack button or read her phone). A token-only
decision is refused, on the timeline and counted, and what it would decide stays as it was. A code (a person and
its time step) counts once in a run, whatever the gateway remembers."""

from __future__ import annotations

from typing import Any

from incident.attestation import PRESENT, Claim, Method
from incident.models import Actor, ActorKind, UpdateReply
from workflows.incident.refusals import Refusals
from workflows.incident.run import IncidentRun

STEP_UP = "step-up"
"""Patch id: a human decides what `boundaries.step_up` names only when present. Before it, any proven human could."""
STEP_UP_VERDICT = "step_up"
STEP_UP_RULE = "boundaries.step_up"
HOW = "with --code from your authenticator app, or from Slack"


class StepUp:
    def __init__(self, run: IncidentRun, refusals: Refusals) -> None:
        self.run = run
        self.refusals = refusals
        self._codes: set[tuple[str, int]] = set()
        """(person, time step) of the codes this run accepted: each counts once (rebuilt on replay)."""

    def check(self, actor: Actor, name: str, claim: Claim | None, action: str, verb: str) -> UpdateReply | None:
        """None when `actor` may go on with `name` (an action, or `confirm_severity`); else the refusal, recorded
        as `action` (what was attempted, e.g. `approve A1`). `verb` says what to do again, present."""
        if actor.kind is not ActorKind.HUMAN or claim is None:
            return None  # agents never decide; an incident that predates proofs has no claim to look at
        if not self.run.policy.boundaries.needs_step_up(name) or not self.run.patched(STEP_UP):
            return None
        if claim.method not in PRESENT:
            hint = f"{name} needs you present, not only your token: {verb} {HOW}"
            return self.refusals.refuse(actor, action, STEP_UP_RULE, hint, STEP_UP_VERDICT)
        if claim.method is Method.TOTP:
            if claim.totp_step is None:
                hint = f"the proof names no one-time code: {verb} {HOW}"
                return self.refusals.refuse(actor, action, STEP_UP_RULE, hint, STEP_UP_VERDICT)
            code = (actor.name, claim.totp_step)
            if code in self._codes:
                hint = f"that code was already used on this incident: wait for the next one and {verb} again"
                return self.refusals.refuse(actor, action, STEP_UP_RULE, hint, STEP_UP_VERDICT)
            self._codes.add(code)
        return None


def via(claim: Claim | None, data: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A decision's timeline data with how its human proved who they are (`via: totp`), where a claim says so."""
    if claim is None:
        return data
    return {**(data or {}), "via": claim.method.value}
