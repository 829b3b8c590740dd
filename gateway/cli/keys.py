"""`baton keys`: the gateway's signing key, for setting up workers and rotating it (see docs/security.md)."""

from __future__ import annotations

from gateway.cli.common import JsonOpt, emit_json, fail, out
from gateway.keyfiles import KeyProblem, signing_key
from gateway.secret_file import UnsafeSecretFile
from incident.keys import SigningKey


def keys_new(as_json: JsonOpt = False) -> None:
    """Make a new gateway key: the private half for the gateway's secret store, the public half for the workers.

    Nothing is written: put the private key in BATON_GATEWAY_KEY where the gateway runs, and the public key in the
    workers' `identity.trusted_keys`.

    Example: baton keys new
    """
    key = SigningKey.generate()
    if as_json:
        emit_json({"private": key.text(), "public": key.public_text(), "key_id": key.key_id})
        return
    out.print(f"private (BATON_GATEWAY_KEY, keep secret): {key.text()}", highlight=False)
    out.print(f"public  (identity.trusted_keys):          {key.public_text()}", highlight=False)


def keys_show(as_json: JsonOpt = False) -> None:
    """The public half of this gateway's key ($BATON_GATEWAY_KEY, else the data dir's): what workers trust.

    Example: baton keys show
    """
    try:
        key = signing_key()
    except (KeyProblem, UnsafeSecretFile) as e:
        raise fail(str(e), 2) from None
    if key is None:
        raise fail("no gateway key here: set BATON_GATEWAY_KEY, or run `baton up` once to make one", 1)
    if as_json:
        emit_json({"public": key.public_text(), "key_id": key.key_id})
    else:
        out.print(key.public_text(), highlight=False)
