"""The gateway's signing key and the keys a worker trusts: Ed25519, written as text.

A private key is `ed25519-private:<base64url of the 32-byte seed>` (a secret: `baton up` keeps it in
`.baton/gateway-key`, mode 0600); a public key is `ed25519:<base64url of the 32 bytes>`. A proof is
`v1.<key id>.<claim>.<signature>`, the claim as base64url JSON and the signature over everything before it, so a
worker that trusts several keys (while one is being rotated in) knows which to check with.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import ValidationError

from incident.attestation import MAX_PROOF, Claim

PRIVATE = "ed25519-private:"
PUBLIC = "ed25519:"
VERSION = "v1"


class BadKey(ValueError):
    """A key that is not one: the message names what is wrong."""


class BadProof(ValueError):
    """A proof that does not hold: not one, signed by no trusted key, or altered."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


def _decode(text: str, prefix: str, what: str) -> bytes:
    text = text.strip()
    if not text.startswith(prefix):
        raise BadKey(f"{what} must start with {prefix!r}")
    try:
        raw = _unb64(text[len(prefix) :])
    except (binascii.Error, ValueError):
        raise BadKey(f"{what} is not base64url after {prefix!r}") from None
    if len(raw) != 32:
        raise BadKey(f"{what} must hold 32 bytes, not {len(raw)}")
    return raw


class SigningKey:
    """What the gateway signs claims with. Only the gateway holds it."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        self.key_id = key_id(self.public)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str) -> SigningKey:
        return cls(Ed25519PrivateKey.from_private_bytes(_decode(text, PRIVATE, "the gateway's signing key")))

    def text(self) -> str:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return PRIVATE + _b64(seed)

    def public_text(self) -> str:
        return PUBLIC + _b64(_raw(self.public))

    def sign(self, claim: Claim) -> str:
        signed = f"{VERSION}.{self.key_id}.{_b64(claim.model_dump_json().encode())}"
        return f"{signed}.{_b64(self._private.sign(signed.encode()))}"


class TrustedKeys:
    """The public keys a worker accepts proofs from: the gateway's, and while rotating, the next one too."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}
        for text in keys:
            public = Ed25519PublicKey.from_public_bytes(_decode(text, PUBLIC, "a trusted key"))
            self._keys[key_id(public)] = public

    def __len__(self) -> int:
        return len(self._keys)

    def verify(self, proof: str) -> Claim:
        """The claim `proof` carries, if a trusted key signed it exactly so; else BadProof saying why."""
        if len(proof) > MAX_PROOF:
            raise BadProof(f"the proof is {len(proof)} characters; at most {MAX_PROOF}")
        parts = proof.split(".")
        if len(parts) != 4 or parts[0] != VERSION:
            raise BadProof("not a proof")
        public = self._keys.get(parts[1])
        if public is None:
            raise BadProof(f"signed by a key this worker does not trust ({parts[1][:16]})")
        try:
            public.verify(_unb64(parts[3]), ".".join(parts[:3]).encode())
            return Claim.model_validate_json(_unb64(parts[2]))
        except ValidationError:  # a ValueError too: first
            raise BadProof("the signed claim is malformed") from None
        except (InvalidSignature, binascii.Error, ValueError):
            raise BadProof("the signature does not match") from None
