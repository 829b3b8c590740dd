"""`verify_proof`: is this proof signed by a key the worker trusts? A local activity, so the keys come from the
worker's config (which may change: a key rotated out) while the workflow reads the answer from its history."""

from __future__ import annotations

from temporalio import activity

from incident.keys import BadProof, TrustedKeys
from workflows.messages import ProofCheck


class ProofActivities:
    def __init__(self, trusted: TrustedKeys) -> None:
        self.trusted = trusted

    @activity.defn(name="verify_proof")
    async def verify_proof(self, proof: str) -> ProofCheck:
        if not len(self.trusted):
            return ProofCheck(problem="this worker trusts no gateway key (see docs/security.md)")
        try:
            return ProofCheck(claim=self.trusted.verify(proof))
        except BadProof as e:
            return ProofCheck(problem=str(e))
