"""Incident ids people can type (`INC-7K2Q9M`) and the workflow ids that make dedup atomic.

The workflow id is derived from the alert's dedup key, so Temporal's signal-with-start attaches every event for
an open incident to it, however many arrive at once. The incident id is the name people use; it is minted once
per incident inside the workflow (deterministically) and kept across continue-as-new.
"""

from __future__ import annotations

import hashlib
import re

# Crockford base32: no I, L, O, U, so ids survive being read aloud and typed from a phone.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TYPO = str.maketrans({"O": "0", "I": "1", "L": "1"})
ID_LENGTH = 6
_INCIDENT_ID = re.compile(rf"^INC-[{_ALPHABET}]{{{ID_LENGTH}}}$")
WORKFLOW_ID_PREFIX = "incident:"
_SAFE_KEY = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,200}$")


def incident_id_from_int(n: int) -> str:
    """Encode the low 30 bits of `n` as `INC-XXXXXX`."""
    chars = []
    for _ in range(ID_LENGTH):
        n, r = divmod(n, 32)
        chars.append(_ALPHABET[r])
    return "INC-" + "".join(reversed(chars))


def normalise_incident_id(text: str) -> str | None:
    """Accept `inc-7k2q9m`, `7K2Q9M`, `INC-7K2Q9O` (O for 0): return the canonical id, or None if it is not one."""
    s = text.strip().upper()
    if s.startswith("INC-"):
        s = s[4:]
    s = "INC-" + s.translate(_TYPO)
    return s if _INCIDENT_ID.match(s) else None


def workflow_id_for(scope: str, dedup_key: str) -> str:
    """The workflow id for an alert stream: readable when the key is, hashed when it is long or odd."""
    key = dedup_key if _SAFE_KEY.match(dedup_key) else "sha256-" + hashlib.sha256(dedup_key.encode()).hexdigest()
    return f"{WORKFLOW_ID_PREFIX}{scope}:{key}"
