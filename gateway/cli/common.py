"""What every `baton` command shares: the consoles, the common options, the way to the gateway (every command
that reads or changes incidents goes through its API, as the person $BATON_TOKEN names), and one way to turn its
errors into sentences and exit codes (0 ok, 1 refused or not found, 2 bad usage, config or credentials)."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from gateway.client import NotFound, Refused, Unavailable
from gateway.remote import TOKEN_ENV, URL_ENV, GatewayUnreachable, RemoteIncidents, Unauthenticated
from gateway.render import escape
from incident.config import ConfigError, load_config
from incident.durations import parse_duration
from incident.models import Actor

out = Console(emoji=False)
err = Console(stderr=True, emoji=False)
"""No `:emoji:` codes: a note saying `:white_check_mark:` prints as written."""
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AsOpt = Annotated[
    str | None,
    typer.Option(
        "--as", help="Check that $BATON_TOKEN is this person's (default: $BATON_USER); the token decides who acts."
    ),
]


def _six_digits(code: str | None) -> str | None:
    if code is not None and not re.fullmatch(r"[0-9]{6}", code.strip()):
        raise fail("that is not a 6-digit code: type the code your authenticator app shows", 2)
    return code.strip() if code is not None else None


CodeOpt = Annotated[
    str | None,
    typer.Option(
        "--code",
        help="The one-time code your authenticator app shows: a judgment call needs it (boundaries.step_up).",
        callback=_six_digits,
    ),
]
IdArg = Annotated[str, typer.Argument(help="Incident id, e.g. INC-7K2Q9M (or its workflow id).")]


def fail(message: str, code: int) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def run(coro_fn: Callable[[RemoteIncidents], Coroutine[Any, Any, T]]) -> T:
    """Run one call through the gateway ($BATON_URL) with your token ($BATON_TOKEN), and turn its errors into
    sentences and exit codes."""
    token = os.environ.get(TOKEN_ENV)
    if not token:
        raise fail(NO_TOKEN, 2)
    incidents = RemoteIncidents(token)
    try:
        return asyncio.run(coro_fn(incidents))
    except Unauthenticated as e:
        raise fail(f"the gateway at {incidents.url} does not know this token: {e}. Check {TOKEN_ENV}", 2) from None
    except (NotFound, Refused) as e:
        raise fail(str(e), 1) from None
    except GatewayUnreachable:
        raise fail(
            f"cannot reach the baton gateway at {incidents.url}: is `baton up` running? (set {URL_ENV} if it runs "
            "elsewhere)",
            1,
        ) from None
    except Unavailable as e:
        raise fail(f"the gateway at {incidents.url} cannot reach Temporal: {e}", 1) from None


NO_TOKEN = (
    f"who are you? set {TOKEN_ENV} to your personal token (people.NAME.token in the config; with `baton up`: "
    f"export {TOKEN_ENV}=$(cat .baton/tokens/NAME)); see docs/security.md"
)


def act(as_: str | None, call: Callable[[RemoteIncidents, Actor], Coroutine[Any, Any, T]]) -> T:
    """An action as whoever $BATON_TOKEN is. `--as` (or $BATON_USER) only checks that the token is that
    person's: a name alone never acts."""
    claimed = as_ or os.environ.get("BATON_USER")

    async def go(c: RemoteIncidents) -> T:
        me = await c.whoami()
        if claimed and me != Actor.human(claimed):
            who = "--as" if as_ else "BATON_USER"
            raise fail(f"{who} says {claimed}, but {TOKEN_ENV} is {me}'s token: the token decides who acts", 2)
        return await call(c, me)

    return run(go)


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
