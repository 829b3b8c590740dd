"""What every `baton` command shares: the consoles, the common options, and one way to turn the façade's errors
into sentences and exit codes (0 ok, 1 refused or not found, 2 bad usage or config)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from gateway.client import Incidents, NotFound, Refused, Unavailable
from gateway.keyfiles import gateway_signer
from gateway.render import escape
from gateway.step_up import StepUp, StepUpRefused
from gateway.temporal import connect, temporal_address
from incident.attestation import Method
from incident.config import ConfigError, config_path, load_config
from incident.durations import parse_duration
from incident.models import Actor

out = Console(emoji=False)
err = Console(stderr=True, emoji=False)
"""No `:emoji:` codes: a note saying `:white_check_mark:` prints as written."""
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AsOpt = Annotated[str | None, typer.Option("--as", help="Who you are (a person in the config). Default: $BATON_USER.")]
CodeOpt = Annotated[
    str | None,
    typer.Option(
        "--code",
        help="The one-time code your authenticator app shows: a judgment call needs it (boundaries.step_up).",
    ),
]
IdArg = Annotated[str, typer.Argument(help="Incident id, e.g. INC-7K2Q9M (or its workflow id).")]


def fail(message: str, code: int) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def run(coro_fn: Callable[[Incidents], Awaitable[T]]) -> T:
    """Connect, run one façade call, and turn its errors into sentences and exit codes."""

    async def go() -> T:
        try:
            client = await connect()
        except RuntimeError as e:
            raise Unavailable(str(e)) from None
        return await coro_fn(Incidents(client, signer=gateway_signer()))

    try:
        return asyncio.run(go())
    except NotFound as e:
        raise fail(str(e), 1) from None
    except Refused as e:
        raise fail(str(e), 1) from None
    except Unavailable:
        raise fail(f"cannot reach Temporal at {temporal_address()}: is `baton up` running?", 1) from None


def human(as_: str | None) -> Actor:
    """The acting human: --as or $BATON_USER, and a person in the config."""
    name = as_ or os.environ.get("BATON_USER")
    if not name:
        raise fail("who is acting? pass --as NAME or set BATON_USER", 2)
    try:
        config = load_config()
    except ConfigError as e:
        raise fail(str(e), 2) from None
    if name not in config.people:
        known = ", ".join(sorted(config.people)) or "none"
        raise fail(f"{name!r} is not a person in {config_path()} (people: {known})", 2)
    return Actor.human(name)


def present(actor: Actor, code: str | None) -> Callable[[Incidents], Incidents]:
    """How the request goes to the incident: with a one-time code checked here (the gateway attests `totp` with
    its time step), else proven by the token alone."""
    if code is None:
        return lambda c: c
    try:
        step = StepUp(load_config()).check(actor.name, code)
    except ConfigError as e:
        raise fail(str(e), 2) from None
    except StepUpRefused as e:
        raise fail(str(e), 2 if e.usage else 1) from None
    return lambda c: c.acting(Method.TOTP, totp_step=step)


def duration_opt(option: str, text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise fail(f"{option} {text!r}: {e}", 2) from None


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def done(result: Any, as_json: bool) -> None:
    """An update's reply: its sentence, or the whole reply as JSON."""
    if as_json:
        emit_json(result.model_dump(mode="json"))
    else:
        out.print(escape(result.message), highlight=False)


def check_config() -> None:
    """Refuse to start a long-running process on a config that does not load (exit 2, with every problem)."""
    try:
        load_config()
    except ConfigError as e:
        raise fail(str(e), 2) from None
