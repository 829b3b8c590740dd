"""`baton people`: what a person needs to act. `enrol` makes the secret of their authenticator app, for the
one-time codes a judgment call asks for (step-up, docs/security.md)."""

from __future__ import annotations

import io
import re
from typing import Annotated

import pyotp
import segno
import typer

from gateway.cli.common import JsonOpt, emit_json, fail
from gateway.step_up import authenticator
from incident.config import ConfigError, config_path, load_config

ISSUER = "baton"


def env_var_for(person: str) -> str:
    """The environment variable we suggest for a person's secret: BATON_TOTP_ALICE."""
    return "BATON_TOTP_" + re.sub(r"[^A-Z0-9]", "_", person.upper())


def enrol(
    person: Annotated[str, typer.Argument(help="A person in the config.")],
    as_json: JsonOpt = False,
) -> None:
    """Make a new authenticator secret for PERSON: a QR code and otpauth URI to scan, and the variable to set.

    The secret is printed this once and written nowhere: put it where the gateway runs, in the variable
    `people.NAME.totp: env:VAR` names. A new enrolment replaces the old secret once that variable holds it.

    Example: baton people enrol alice
    """
    try:
        config = load_config()
    except ConfigError as e:
        raise fail(str(e), 2) from None
    if person not in config.people:
        known = ", ".join(sorted(config.people)) or "none"
        raise fail(f"{person!r} is not a person in {config_path()} (people: {known})", 2)
    secret = pyotp.random_base32()
    uri = authenticator(secret).provisioning_uri(name=person, issuer_name=ISSUER)
    configured = config.people[person].totp
    var = (configured.env_var if configured else None) or env_var_for(person)
    if as_json:
        emit_json({"person": person, "uri": uri, "secret": secret, "env": var, "configured": bool(configured)})
        return
    qr = io.StringIO()
    segno.make(uri, error="m").terminal(out=qr, compact=True)
    lines = [
        f"One-time codes for {person}: scan this with an authenticator app (or type the key by hand).",
        qr.getvalue(),
        f"  {uri}",
        f"  key: {secret}",
        "",
        "The secret is shown this once and kept nowhere. Where the gateway runs, set:",
        f"  export {var}={secret}",
        f"people.{person}.totp in {config_path()} already reads it (env:{var})."
        if configured and configured.env_var
        else f"and in {config_path()}, under people.{person}: totp: env:{var}",
        "Then decide a judgment call with the code your app shows, e.g. baton approve INC-7K2Q9M A1 --code 123456",
    ]
    typer.echo("\n".join(lines))  # as is: a terminal must not wrap the URI or the key
