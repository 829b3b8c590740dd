"""Commands a human acts with: each sends one request to the gateway as whoever $BATON_TOKEN is (`--as` only
checks that) and prints the incident's reply; the incident decides whether it is allowed."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import AsOpt, CodeOpt, IdArg, JsonOpt, act, done, fail
from incident.models import Severity


def ack(incident: IdArg, as_: AsOpt = None, as_json: JsonOpt = False) -> None:
    """Acknowledge: you are on it, escalation stops.

    Example: baton ack INC-7K2Q9M
    """
    result = act(as_, lambda c, me: c.acknowledge(incident, me))
    done(result, as_json)


def resolve(
    incident: IdArg,
    summary: Annotated[str, typer.Option("--summary", "-m", help="What fixed it.")] = "",
    code: CodeOpt = None,
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Declare the incident resolved (a human decision: with --code, see boundaries.step_up).

    Example: baton resolve INC-7K2Q9M -m "rolled back v2.41" --code 123456
    """
    result = act(as_, lambda c, me: c.resolve(incident, me, summary, code=code))
    done(result, as_json)


def note(
    incident: IdArg,
    text: Annotated[str, typer.Argument(help="The note.")],
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a note to the timeline.

    Example: baton note INC-7K2Q9M "error rate falling since the rollback"
    """
    result = act(as_, lambda c, me: c.note(incident, me, text))
    done(result, as_json)


def severity(
    incident: IdArg,
    level: Annotated[Severity, typer.Argument(help="SEV0 (worst) to SEV4.")],
    reason: Annotated[str, typer.Option("--reason", "-m", help="Why.")] = "",
    code: CodeOpt = None,
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set the severity: confirm what was proposed, or change it (a human decision: a customer-facing one with
    --code, see boundaries.step_up).

    Example: baton severity INC-7K2Q9M SEV1 -m "checkout down for all EU customers" --code 123456
    """
    result = act(as_, lambda c, me: c.set_severity(incident, me, level, reason, code=code))
    done(result, as_json)


def page(
    incident: IdArg,
    who: Annotated[str, typer.Argument(help="A person, `user:NAME` or `schedule:NAME` (whoever is on call).")],
    reason: Annotated[str, typer.Option("--reason", "-m", help="Why them.")] = "",
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Page someone into the incident now.

    Examples: baton page INC-7K2Q9M dave -m "database expertise"; baton page INC-7K2Q9M schedule:platform-primary
    """
    result = act(as_, lambda c, me: c.request(incident, me, "page", reason, {"target": who}))
    done(result, as_json)


def escalate(
    incident: IdArg,
    reason: Annotated[str, typer.Option("--reason", "-m", help="Why.")] = "",
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Page the next escalation level now, without waiting for its timer.

    Example: baton escalate INC-7K2Q9M -m "need the payments lead"
    """
    result = act(as_, lambda c, me: c.request(incident, me, "escalate", reason))
    done(result, as_json)


def approve(
    incident: IdArg,
    approval: Annotated[str, typer.Argument(help="The approval id, e.g. A1 (see `baton show`).")],
    text: Annotated[
        str | None, typer.Option("--text", help="Customer comms: post this text instead of the proposed one.")
    ] = None,
    code: CodeOpt = None,
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve a pending request; the action then runs, and its result goes on the timeline. A judgment call
    (a rollback, customer comms, a resolve) needs --code.

    Example: baton approve INC-7K2Q9M A1 --code 123456
    """
    result = act(as_, lambda c, me: c.approve(incident, me, approval, text, code=code))
    done(result, as_json)


def deny(
    incident: IdArg,
    approval: Annotated[str, typer.Argument(help="The approval id, e.g. A1.")],
    reason: Annotated[str, typer.Option("--reason", "-m", help="Why not (required).")] = "",
    code: CodeOpt = None,
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Deny a pending request, with the reason (a judgment call needs --code).

    Example: baton deny INC-7K2Q9M A1 --reason "the deploy is not the cause" --code 123456
    """
    if not reason.strip():
        raise fail("a denial needs a reason: --reason TEXT", 2)
    result = act(as_, lambda c, me: c.deny(incident, me, approval, reason, code=code))
    done(result, as_json)


def reload(incident: IdArg, as_: AsOpt = None, as_json: JsonOpt = False) -> None:
    """Apply the current config's policy to a running incident (a human decision).

    New incidents always start with the current config; a running one changes only when a human says so. The
    gateway applies its config file as it is now.

    Example: baton reload INC-7K2Q9M
    """
    done(act(as_, lambda c, me: c.reload(incident, me)), as_json)
