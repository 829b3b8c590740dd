"""Where the gateway's signing key and a worker's trusted keys come from.

The gateway signs with `$BATON_GATEWAY_KEY`, else the key `baton up` generated on its first start in the data
dir (`.baton/gateway-key`, mode 0600, refused if others can read it). A worker trusts the public keys in the
config's `identity.trusted_keys`, in `$BATON_TRUSTED_KEYS` (space- or comma-separated), and the data dir's
`gateway-key.pub` when there is one (what `baton up` writes beside the key). Rotation: see docs/security.md.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from gateway.attesting import Signer
from gateway.secret_file import create_secret, read_secret
from incident.config import Config
from incident.keys import BadKey, SigningKey, TrustedKeys

KEY_ENV = "BATON_GATEWAY_KEY"
TRUSTED_ENV = "BATON_TRUSTED_KEYS"
KEY_FILE = "gateway-key"


class KeyProblem(Exception):
    """No usable key: the message says what to set or fix."""


def data_dir() -> Path:
    return Path(os.environ.get("BATON_DATA_DIR", ".baton"))


def signing_key(directory: Path | None = None) -> SigningKey | None:
    """The gateway's key, or None when there is none (then nobody can act on incidents through it)."""
    text = os.environ.get(KEY_ENV)
    where = f"${KEY_ENV}"
    if not text:
        path = (directory or data_dir()) / KEY_FILE
        text, where = read_secret(path), str(path)
    if not text:
        return None
    try:
        return SigningKey.parse(text)
    except BadKey as e:
        raise KeyProblem(f"{where}: {e}") from None


def ensure_signing_key(directory: Path) -> SigningKey:
    """The data dir's key, made on the first start (mode 0600 from its creation), its public half beside it."""
    key = signing_key(directory) if not os.environ.get(KEY_ENV) else None
    if key is None:
        key = SigningKey.parse(create_secret(directory / KEY_FILE, SigningKey.generate().text()))
    public = directory / f"{KEY_FILE}.pub"
    if not public.exists() or public.read_text().strip() != key.public_text():
        public.write_text(key.public_text() + "\n")
    return key


def trusted_keys(config: Config, directory: Path | None = None) -> TrustedKeys:
    texts = list(config.identity.trusted_keys)
    texts += [t for t in re.split(r"[\s,]+", os.environ.get(TRUSTED_ENV, "")) if t]
    public = (directory or data_dir()) / f"{KEY_FILE}.pub"
    if public.is_file():
        texts.append(public.read_text().strip())
    try:
        return TrustedKeys(texts)
    except BadKey as e:
        raise KeyProblem(f"trusted keys: {e}") from None


def gateway_signer() -> Signer | None:
    """The signer of a process that acts on incidents for people and agents it authenticated (the gateway)."""
    key = signing_key()
    return Signer(key) if key is not None else None
