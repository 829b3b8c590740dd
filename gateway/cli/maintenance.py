"""`baton maintenance`: open a maintenance window for a service or a label matcher (now or later), list and show
windows with what they suppressed, and end one early (as whoever $BATON_TOKEN is, through the gateway)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from gateway.cli.common import JsonOpt, duration_opt, emit_json, fail, out, run
from gateway.client import Refused
from gateway.remote import Forbidden, RemoteIncidents
from gateway.render import escape
from incident.maintenance import MAX_MESSAGE, WINDOW_ID, WindowView, check_times, parse_matcher

maintenance_app = typer.Typer(
    help="Maintenance windows: matching alerts page no one, open incidents of the service hold escalation.",
    no_args_is_help=True,
)
IdArg = Annotated[str, typer.Argument(help="The window's id, e.g. MW-4K2Q9Z.")]


def _when(v: datetime | None) -> str:
    return f"{v:%Y-%m-%d %H:%M} UTC" if v is not None else "-"


def table(rows: list[WindowView]) -> Table:
    t = Table(box=None, header_style="bold")
    for col in ("WINDOW", "TARGET", "STATUS", "STARTS", "ENDS", "SUPPRESSED", "HELD", "BY", "WHY"):
        t.add_column(col, overflow="fold")
    for r in rows:
        style = {"open": "yellow", "scheduled": "cyan", "ended": "dim"}[r.status]
        t.add_row(
            r.id,
            escape(r.target),
            f"[{style}]{r.status}[/]",
            _when(r.starts_at),
            _when(r.ends_at),
            str(r.suppressed_total),
            str(len(r.held)),
            escape(r.opened_by),
            escape(r.message),
        )
    return t


def _print(view: WindowView) -> None:
    out.print(table([view]))
    if view.held:
        out.print(f"holds escalation of: {escape(', '.join(view.held))}", highlight=False)
    if view.reopened:
        out.print(f"still firing at its end, paged: {escape(', '.join(view.reopened))}", highlight=False)
    if view.suppressed:
        t = Table(box=None, header_style="bold", title="suppressed (most recent)", title_justify="left")
        for col in ("TIME (UTC)", "ACTION", "KEY", "SUMMARY"):
            t.add_column(col, overflow="fold")
        for s in view.suppressed[-20:]:
            t.add_row(f"{s.at:%H:%M:%S}", s.action.value, escape(s.key), escape(s.summary))
        out.print(t)


def _window_id(text: str) -> str:
    wanted = text.strip().upper()
    if not WINDOW_ID.match(wanted):
        raise fail(f"{text!r} is not a window id (MW- and six characters, as `baton maintenance list` shows)", 2)
    return wanted


@maintenance_app.command("start")
def start(
    target: Annotated[
        str, typer.Argument(help='A service (checkout), labels (team=db,env=prod), or both ("checkout env=prod").')
    ],
    for_: Annotated[str, typer.Option("--for", help="How long, e.g. 2h (at most 7d).")],
    message: Annotated[str, typer.Option("--message", "-m", help="Why: on the timeline of incidents it holds.")] = "",
    at: Annotated[
        datetime | None, typer.Option("--at", help="Start later, e.g. 2026-12-03T02:00 (UTC unless zoned).")
    ] = None,
    in_: Annotated[str | None, typer.Option("--in", help="Start after this long, e.g. 30m.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Open a maintenance window: its alerts page no one while it is open; what still fires at its end pages.

    Examples: baton maintenance start checkout --for 2h -m "db migration"; baton maintenance start team=db --for 1h
    --in 30m
    """
    try:
        parse_matcher(target)
    except ValueError as e:
        raise fail(f"{target!r}: {e}", 2) from None
    duration = duration_opt("--for", for_)
    if at is not None and in_ is not None:
        raise fail("give --at or --in, not both", 2)
    start_at = at.replace(tzinfo=at.tzinfo or UTC) if at is not None else None
    ahead = duration * 0
    if in_ is not None:
        ahead = duration_opt("--in", in_)
        start_at = datetime.now(UTC) + ahead
    elif start_at is not None:
        ahead = max(start_at - datetime.now(UTC), ahead)
    if (why := check_times(duration, ahead)) is not None:
        raise fail(why.replace("`for`", "--for"), 2)
    if len(message) > MAX_MESSAGE:
        raise fail(f"--message is {len(message)} characters; at most {MAX_MESSAGE}", 2)

    async def go(c: RemoteIncidents) -> WindowView:
        try:
            return await c.start_maintenance(target, for_, message, start_at)
        except Forbidden as e:  # an agent's token, refused by the boundaries
            raise fail(str(e), 1) from None
        except Refused as e:  # the gateway found the input wrong (an unknown service)
            raise fail(str(e), 2) from None

    view = run(go)
    if as_json:
        emit_json(view.model_dump(mode="json"))
        return
    if view.status == "scheduled":
        out.print(f"{view.id} scheduled for {escape(view.target)}: {_when(view.starts_at)} to {_when(view.ends_at)}")
    else:
        held = f"; holds {len(view.held)} open incident(s)" if view.held else ""
        out.print(f"{view.id} open for {escape(view.target)} until {_when(view.ends_at)}{held}", highlight=False)
    out.print(f"end it early: baton maintenance end {view.id}", highlight=False)


@maintenance_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Open and scheduled windows, then recently ended ones.

    Examples: baton maintenance list; baton maintenance list --json
    """
    rows = run(lambda c: c.maintenance_windows())
    if as_json:
        emit_json([r.model_dump(mode="json") for r in rows])
    elif not rows:
        out.print("no maintenance windows (open one: baton maintenance start SERVICE --for 2h)", highlight=False)
    else:
        out.print(table(rows))


@maintenance_app.command("show")
def show(window_id: IdArg, as_json: JsonOpt = False) -> None:
    """One window: its times, the incidents it holds, and the alerts it suppressed.

    Example: baton maintenance show MW-4K2Q9Z
    """
    wanted = _window_id(window_id)
    view = run(lambda c: c.maintenance_window(wanted))
    if as_json:
        emit_json(view.model_dump(mode="json"))
    else:
        _print(view)


@maintenance_app.command("end")
def end(window_id: IdArg, as_json: JsonOpt = False) -> None:
    """End a window now: the incidents it held escalate again, and its alerts still firing page as usual.

    Example: baton maintenance end MW-4K2Q9Z
    """
    wanted = _window_id(window_id)
    view = run(lambda c: c.end_maintenance(wanted))
    if as_json:
        emit_json(view.model_dump(mode="json"))
    else:
        out.print(f"{view.id} ended; {view.still_firing} alert key(s) still firing page as usual", highlight=False)
