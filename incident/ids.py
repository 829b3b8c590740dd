"""Incident ids people can type (`INC-7K2Q9M`) and the workflow ids that make dedup atomic.

The workflow id is derived from the alert's dedup key, so Temporal's signal-with-start attaches every event for
an open incident to it, however many arrive at once. The incident id is the name people use; it is minted once
per incident inside the workflow (deterministically) and kept across continue-as-new.

`incident:{source}[:{part}]:{key}` is injective: the source never holds a `:`, the part (a routing key, an org)
has `%` and `:` percent-encoded, a key under a scope without a part never holds a `:`, and a hashed piece
(`sha256-…`) never equals a raw one (a raw piece that starts so is hashed too). Long pieces are hashed, so ids stay
within MAX_WORKFLOW_ID. For every stream whose pieces needed none of that, the id is what it always was: running
incidents keep theirs.
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
_HASHED = "sha256-"
MAX_SOURCE = 64
MAX_PART = 255
"""A routing key may be 255 characters; a part longer than that once encoded is hashed."""
MAX_WORKFLOW_ID = len(WORKFLOW_ID_PREFIX) + (len(_HASHED) + 64) + 1 + MAX_PART + 1 + 200
"""Temporal's limit is 1,000."""


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


def _hashed(text: str) -> str:
    return _HASHED + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def workflow_id_for(scope: str, dedup_key: str) -> str:
    """The workflow id for an alert stream (`scope` is `source` or `source:part`): readable when the pieces are,
    escaped or hashed where they would be ambiguous, long or odd."""
    source, has_part, part = scope.partition(":")
    if len(source) > MAX_SOURCE or source.startswith(_HASHED):
        source = _hashed(source)
    readable = (
        _SAFE_KEY.match(dedup_key) is not None
        and not dedup_key.startswith(_HASHED)
        and (bool(has_part) or ":" not in dedup_key)
    )
    key = dedup_key if readable else _hashed(dedup_key)
    if not has_part:
        return f"{WORKFLOW_ID_PREFIX}{source}:{key}"
    encoded = part.replace("%", "%25").replace(":", "%3A")
    if len(encoded) > MAX_PART or part.startswith(_HASHED):
        encoded = _hashed(part)
    return f"{WORKFLOW_ID_PREFIX}{source}:{encoded}:{key}"
