"""`baton boundaries what-if` and `baton audit`: past incidents' histories read straight from Temporal.

Both read whole histories, which the gateway API does not serve (it answers for incidents, not for their event
logs), and both are run where a team deploys from or in its CI, not by responders: so they talk to Temporal as
`baton replay-check` and the worker do (its Temporal profile or TEMPORAL_* settings, BATON_TASK_QUEUE), and only
read. Exit codes: 0 fine, 1 what the check is for (a widening, a history that does not replay, a decision that does
not match its snapshot) or Temporal unreachable, 2 bad usage (a policy file that does not validate, an unknown
incident).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from temporalio.client import Client

from gateway.audit import RunAudit, audit_histories, fetch, incident_query, window_query
from gateway.cli.common import JsonOpt, duration_opt, emit_json, err, fail, out
from gateway.decisions import Recorded, recorded
from gateway.render import escape, what_if_table
from gateway.temporal import TASK_QUEUE, CannotConnect, SettingsProblem, connect, temporal_settings
from gateway.whatif import MOST_SEVERE, WhatIf, load_policy, what_if
from incident.config import ConfigError
from incident.policy import Verdict

T = TypeVar("T")
SinceOpt = Annotated[str, typer.Option("--since", help="How far back, by start time: e.g. 30d, 24h.")]


def _temporal(work: Callable[[Client], Awaitable[T]]) -> T:
    """Run `work` with a client connected as the worker connects; Temporal's errors become exit code 1."""
    try:
        settings = temporal_settings()
    except SettingsProblem as e:
        raise fail(str(e), 2) from None

    async def go() -> T:
        return await work(await connect(settings=settings))

    try:
        return asyncio.run(go())
    except CannotConnect as e:
        raise fail(str(e).splitlines()[0][:300], 1) from None
    except (RuntimeError, OSError) as e:
        raise fail(f"cannot reach Temporal at {settings.describe()}: {str(e).splitlines()[0][:200]}", 1) from None


def what_if_cmd(
    policy: Annotated[str, typer.Argument(help="The new policy: a whole config, or a file with only `boundaries:`.")],
    since: SinceOpt = "30d",
    allow_widening: Annotated[
        bool, typer.Option("--allow-widening", help="Exit 0 even if agents may do more alone at SEV0 or SEV1.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Decide every request past incidents recorded under a new policy: what would now be refused, run alone or
    need approval, per action and severity, against what the policy each incident ran with gave.

    Exit 1 when the new policy lets an agent do alone at SEV0 or SEV1 what it could not before (unless
    --allow-widening): a gate for a policy change in CI. Reads the incidents' histories from Temporal.

    Example: baton boundaries what-if new-baton.yaml --since 30d
    """
    try:
        new = load_policy(policy)
    except ConfigError as e:
        raise fail(str(e), 2) from None
    start = datetime.now(UTC) - duration_opt("--since", since)

    async def read(client: Client) -> tuple[list[Recorded], bool]:
        histories, more = await fetch(client, window_query(start, TASK_QUEUE))
        found = []
        for _, h in histories:
            try:
                found.append(recorded(h))
            except ValueError as e:
                err.print(f"[yellow]skipped[/yellow] {escape(str(e))}", highlight=False)
        return found, more

    found, more = _temporal(read)
    report = what_if(new, found)
    widens = bool(report.widenings) and not allow_widening
    if as_json:
        emit_json(_what_if_json(report, more))
    else:
        _print_what_if(report, more, since)
    if widens:
        levels = " or ".join(s.value for s in MOST_SEVERE)
        err.print(
            f"[red]the new policy lets an agent do alone at {levels} what it could not before[/red]: "
            "pass --allow-widening if that is the intent",
            highlight=False,
        )
        raise typer.Exit(1)


def _what_if_json(report: WhatIf, more: bool) -> dict[str, object]:
    return {
        "incidents": report.incidents,
        "requests": report.requests,
        "truncated": more,
        "now": {v.value: report.now(v) for v in Verdict},
        "changed": sum(r.count for r in report.changed),
        "widenings": sum(r.count for r in report.widenings),
        "rows": [
            {
                "action": r.action,
                "severity": r.severity.value,
                "actor_kind": r.actor_kind,
                "was": r.was.value,
                "now": r.now.value,
                "rule": r.rule,
                "count": r.count,
                "looser": r.looser,
                "stricter": r.stricter,
                "widening": r.widening,
                "incidents": r.incidents,
            }
            for r in report.rows
        ],
    }


def _print_what_if(report: WhatIf, more: bool, since: str) -> None:
    out.print(
        f"{report.requests} requests in {report.incidents} incidents since {escape(since)} ago"
        + (" (only the newest runs: more exist)" if more else "")
        + f": now {report.now(Verdict.AUTO)} alone, {report.now(Verdict.APPROVAL)} need approval, "
        f"{report.now(Verdict.NEVER, Verdict.UNDEFINED)} refused",
        highlight=False,
    )
    out.print(what_if_table(report.rows))
    if not report.changed:
        out.print("the new policy decides every one of them as the policy its incident ran with", highlight=False)


def audit(
    incident: Annotated[str | None, typer.Argument(help="An incident id (INC-…); or --since for a window.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Every incident started this far back instead, e.g. 7d.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay an incident's history against the worker code installed here and check every decision it recorded
    against its policy snapshot; print who did what under which rule.

    Exit 1 when a history does not replay with this code or a decision is not what its snapshot gives: run it with
    the new worker version before deploying. Reads histories from Temporal; nothing runs.

    Examples: baton audit INC-7KQ2MX; baton audit --since 7d --json
    """
    if (incident is None) == (since is None):
        raise fail("give an incident id or --since, not both and not neither", 2)
    query = (
        incident_query(incident, TASK_QUEUE)
        if incident is not None
        else window_query(datetime.now(UTC) - duration_opt("--since", since or ""), TASK_QUEUE)
    )

    async def read(client: Client) -> tuple[list[RunAudit], bool]:
        histories, more = await fetch(client, query)
        return await audit_histories(histories), more

    runs, more = _temporal(read)
    if incident is not None and not runs:
        raise fail(f"no incident {incident} on the task queue {TASK_QUEUE}", 2)
    bad = [r for r in runs if not r.ok]
    if as_json:
        emit_json({"runs": len(runs), "failed": len(bad), "truncated": more, "audits": [_run_json(r) for r in runs]})
    else:
        for r in runs:
            _print_run(r, detail=incident is not None or not r.ok)
        verdict = "every one replays and matches its snapshot" if not bad else f"{len(bad)} do not"
        more_text = " (only the newest: more exist)" if more else ""
        out.print(f"{len(runs)} incident runs audited{more_text}: {verdict}", highlight=False)
    if bad:
        raise typer.Exit(1)


def _run_json(r: RunAudit) -> dict[str, object]:
    return {
        "incident_id": r.incident_id,
        "workflow_id": r.workflow_id,
        "run_id": r.run_id,
        "events": r.events,
        "ok": r.ok,
        "replay_problem": r.replay_problem,
        "read_problem": r.read_problem,
        "decisions": [
            {
                "event_id": c.asked.event_id,
                "actor": c.asked.actor,
                "action": c.asked.action,
                "severity": c.asked.severity.value,
                "verdict": c.asked.verdict,
                "rule": c.asked.rule or c.expected_rule,
                "expected": c.expected,
                "problem": c.problem,
            }
            for c in r.checked
        ],
    }


def _print_run(r: RunAudit, detail: bool) -> None:
    head = f"{escape(r.incident_id)} ({escape(r.workflow_id)}, run {r.run_id[:8]})"
    if r.replay_problem:
        out.print(f"[red]{head}: does not replay with this code[/red]: {escape(r.replay_problem)}", highlight=False)
    elif r.read_problem:
        out.print(f"[red]{head}: cannot be read[/red]: {escape(r.read_problem)}", highlight=False)
    else:
        out.print(f"{head}: replays, {len(r.checked)} decisions", highlight=False)
    for c in r.checked if detail else r.mismatches:
        a = c.asked
        rule = escape(a.rule or c.expected_rule)
        line = f"  {a.severity.value} {escape(a.actor)} {escape(a.action)}: {a.verdict} ({rule})"
        if c.problem:
            line += f" [red]mismatch: {escape(c.problem)}[/red]"
        out.print(line, highlight=False)
