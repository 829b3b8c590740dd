"""`baton replay-check`: before rolling out new worker code, replay every open incident's history against it
(docs/deploy.md, "Safe upgrades")."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from gateway.cli.common import JsonOpt, emit_json, fail, out
from gateway.render import escape
from gateway.replay_check import MAX_OPEN, ReplayReport, replay_open
from gateway.temporal import TASK_QUEUE, CannotConnect, SettingsProblem, TemporalSettings, connect, temporal_settings

LimitOpt = Annotated[int, typer.Option("--limit", help=f"At most this many open workflows (1 to {MAX_OPEN}).")]


def replay_check(limit: LimitOpt = 1_000, as_json: JsonOpt = False) -> None:
    """Replay the history of every open workflow on baton's task queue with the code installed here.

    Nothing runs: no activity, no timer, no page. Exit 0 when every history replays, 1 when one does not (deploy
    that code and the incident stops escalating) or Temporal cannot be reached, 2 for bad usage. Talks to Temporal
    as the worker does (its Temporal profile or TEMPORAL_* settings, BATON_TASK_QUEUE).

    Example: baton replay-check
    """
    if not 1 <= limit <= MAX_OPEN:
        raise fail(f"--limit {limit}: give 1 to {MAX_OPEN}", 2)
    try:
        settings = temporal_settings()
    except SettingsProblem as e:
        raise fail(str(e), 2) from None
    try:
        report = asyncio.run(_check(settings, limit))
    except CannotConnect as e:
        raise fail(str(e).splitlines()[0][:300], 1) from None
    except (RuntimeError, OSError) as e:
        raise fail(f"cannot reach Temporal at {settings.describe()}: {str(e).splitlines()[0][:200]}", 1) from None
    if as_json:
        emit_json(
            {
                "task_queue": TASK_QUEUE,
                "replayed": len(report.replayed),
                "failed": len(report.failed),
                "truncated": report.truncated,
                "workflows": [r.__dict__ for r in report.replayed],
            }
        )
    else:
        for r in report.failed:
            out.print(
                f"[red]does not replay[/red] {escape(r.workflow_id)} ({r.workflow_type}): {escape(r.problem or '')}"
            )
        more = f" (only the first {limit}: --limit)" if report.truncated else ""
        verdict = "all replay" if not report.failed else f"{len(report.failed)} do not replay"
        out.print(f"{len(report.replayed)} open workflows on {escape(TASK_QUEUE)}{more}: {verdict}", highlight=False)
    if report.failed:
        raise typer.Exit(1)


async def _check(settings: TemporalSettings, limit: int) -> ReplayReport:
    client = await connect(settings=settings)
    return await replay_open(client, TASK_QUEUE, limit)
