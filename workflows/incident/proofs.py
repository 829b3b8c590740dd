"""Who really sent a request: every human or agent request carries the gateway's signed claim, and an incident
acts on it only once that claim is verified (by the worker's trusted keys, in a local activity) and bound to this
very request of this run. Anything else is refused, recorded on the timeline as an impersonation attempt, and
counted: a raw Temporal client, or an agent that claims to be `human:alice`, changes nothing."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from incident.attestation import Claim, Method, digest, mismatch
from incident.models import UpdateReply
from workflows.incident.refusals import Refusals
from workflows.incident.run import IncidentRun
from workflows.messages import ActorRequest, ProofCheck

ATTESTED_ACTORS = "attested-actors"
"""Patch id: a request's actor counts only with the gateway's proof. Before it, the actor was whatever the
request said (the saved histories in tests/fixtures replay this way)."""
VERIFY_TIMEOUT = timedelta(seconds=5)


class Proofs:
    def __init__(self, run: IncidentRun, refusals: Refusals) -> None:
        self.run = run
        self.refusals = refusals
        self._used: set[str] = set()
        """Nonces of the claims this run accepted: each counts once. A claim is bound to its run, so a run need
        not remember another's, and this holds at most one per request in the run's history (rebuilt on replay)."""
        self.last: Claim | None = None
        """The claim of the request being handled now (set by `vouch`): how its actor proved who they are."""

    async def vouch(self, req: ActorRequest, update: str) -> UpdateReply | None:
        """None when the request's actor is proven (or the incident predates proofs); else its refusal."""
        self.last = None
        if not self.run.patched(ATTESTED_ACTORS):
            return None
        if not req.proof:
            return self._refuse(req, update, "it carries no proof from the gateway")
        try:
            check: ProofCheck = await workflow.execute_local_activity(
                "verify_proof",
                req.proof,
                result_type=ProofCheck,
                start_to_close_timeout=VERIFY_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=3),
                summary=f"proof of {req.actor}",
            )
        except ActivityError:
            st = self.run.require()
            message = "the worker could not check the request's proof; try again"
            return UpdateReply(ok=False, message=message, status=st.status)
        if check.claim is None:
            return self._refuse(req, update, check.problem)
        claim = check.claim
        info = workflow.info()
        expected = claim.model_copy(
            update={
                "actor": req.actor,
                "update": update,
                "digest": digest(req),
                "workflow_id": info.workflow_id,
                "run_id": info.run_id,
            }
        )
        problem = mismatch(claim, expected)
        if problem is None and claim.nonce in self._used:
            problem = "the proof was used before"
        if problem is not None:
            return self._refuse(req, update, problem)
        self._used.add(claim.nonce)
        self.last = claim
        return None

    def method(self) -> Method | None:
        return self.last.method if self.last else None

    def _refuse(self, req: ActorRequest, update: str, problem: str) -> UpdateReply:
        return self.refusals.impersonation(req.actor, update, problem)
