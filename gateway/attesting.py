"""The gateway's side of proofs: for each request it sends an incident on someone's behalf, a claim of who sent
it and how they proved it, bound to that request and run, signed with the gateway's key (`incident.keys`)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from incident.attestation import Claim, Method, digest
from incident.keys import SigningKey
from incident.models import ActorKind
from workflows.messages import ActorRequest


class Signer:
    def __init__(self, key: SigningKey) -> None:
        self.key = key

    def attach(
        self,
        request: ActorRequest,
        update: str,
        workflow_id: str,
        run_id: str,
        method: Method,
        totp_step: int | None = None,
    ) -> ActorRequest:
        """`request` with its proof: `method` for a human; an agent is always proven by its token."""
        how = Method.AGENT_TOKEN if request.actor.kind is ActorKind.AGENT else method
        claim = Claim(
            actor=request.actor,
            method=how,
            update=update,
            digest=digest(request),
            workflow_id=workflow_id,
            run_id=run_id,
            issued_at=datetime.now(UTC),
            nonce=secrets.token_hex(16),
            totp_step=totp_step if how is Method.TOTP else None,
        )
        return request.model_copy(update={"proof": self.key.sign(claim)})
