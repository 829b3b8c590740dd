"""`baton heartbeats`: the monitors with their last ping and next deadline; pause and resume one (as whoever
$BATON_TOKEN is, through the gateway)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gateway.cli.common import AsOpt, JsonOpt, act, emit_json, fail, out, run
from gateway.render import escape
from incident.durations import format_duration
from incident.heartbeats import HeartbeatView
from incident.models import NAME

heartbeats_app = typer.Typer(
    help="Jobs that ping baton: a missed ping opens an incident. Without a command: list them.",
    invoke_without_command=True,
)
NameArg = Annotated[str, typer.Argument(help="The monitor, as `heartbeats:` in the config names it.")]


def _when(v: object) -> str:
    return f"{v:%Y-%m-%d %H:%M:%S} UTC" if v is not None else "-"


def table(rows: list[HeartbeatView]) -> Table:
    t = Table(box=None, header_style="bold")
    for col in ("HEARTBEAT", "SERVICE", "EVERY", "STATUS", "LAST PING", "NEXT DEADLINE", "MISSES"):
        t.add_column(col)
    for r in rows:
        status = (
            r.status + (f" by {r.paused_by}" if r.paused_by else "") + (f": {r.pause_reason}" if r.pause_reason else "")
        )
        style = {"missed": "red", "paused": "yellow", "never": "dim"}.get(r.status, "green")
        t.add_row(
            escape(r.name),
            escape(r.service),
            f"{format_duration(r.every)} + {format_duration(r.grace)}",
            f"[{style}]{escape(status)}[/]",
            _when(r.last_ping),
            _when(r.next_deadline),
            str(r.misses),
        )
    return t


@heartbeats_app.callback()
def heartbeats(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the heartbeat monitors: status (ok, missed, paused, never pinged), last ping, next deadline.

    Examples: baton heartbeats; baton heartbeats --json; baton heartbeats pause nightly-backup -m "restore test"
    """
    if ctx.invoked_subcommand is not None:
        return
    rows = run(lambda c: c.heartbeats())
    if as_json:
        emit_json([r.model_dump(mode="json") for r in rows])
    elif not rows:
        out.print("no heartbeats in the config (see docs/heartbeats.md)", highlight=False)
    else:
        out.print(table(rows))


def _checked(name: str) -> str:
    if not NAME.match(name):
        raise fail(f"{name!r} is not a heartbeat name (lowercase letters, digits, . _ -)", 2)
    return name


def _show(view: HeartbeatView, as_json: bool) -> None:
    if as_json:
        emit_json(view.model_dump(mode="json"))
    elif view.status == "paused":
        out.print(f"{escape(view.name)} paused: a missed ping opens no incident until it is resumed", highlight=False)
    else:
        due = f"; next ping due by {_when(view.next_deadline)}" if view.next_deadline else ""
        out.print(f"{escape(view.name)} resumed{due}", highlight=False)


@heartbeats_app.command("pause")
def pause(
    name: NameArg,
    reason: Annotated[str, typer.Option("--reason", "-m", help="Why (shown in `baton heartbeats`).")] = "",
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stop watching a monitor: a missed ping opens no incident until it is resumed.

    Example: baton heartbeats pause nightly-backup -m "backups off during the migration"
    """
    _checked(name)
    _show(act(as_, lambda c, me: c.pause_heartbeat(me, name, True, reason)), as_json)


@heartbeats_app.command("resume")
def resume(name: NameArg, as_: AsOpt = None, as_json: JsonOpt = False) -> None:
    """Watch a monitor again: its next ping is due `every + grace` from now.

    Example: baton heartbeats resume nightly-backup
    """
    _checked(name)
    _show(act(as_, lambda c, me: c.pause_heartbeat(me, name, False)), as_json)
