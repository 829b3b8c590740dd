"""`baton drill` itself: what it prints (PASS/FAIL, every check, the timeline; or JSON) and its exit code."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog
from rich.console import Console

from gateway.drill.loading import DrillSetupError
from gateway.drill.results import DrillResult
from gateway.drill.running import run_drills
from gateway.render import escape
from incident.judge import ago


def render(results: Sequence[DrillResult], console: Console) -> None:
    """Each drill: PASS/FAIL, every check with ✓/✗ (a failure says what happened instead), then the timeline."""
    for r in results:
        badge = "[bold green]PASS[/]" if r.passed else "[bold red]FAIL[/]"
        console.print(f"{badge}  [bold]{escape(r.name)}[/]  [dim]{escape(r.file)}[/]", soft_wrap=True)
        if r.error:
            console.print(f"  [red]could not run:[/] {escape(r.error)}", soft_wrap=True)
        for c in r.checks:
            mark = "[green]✓[/]" if c.passed else "[red]✗[/]"
            line = f" [dim](line {c.line})[/]" if c.line and not c.passed else ""
            console.print(f"  {mark} {escape(c.sentence())}{line}", soft_wrap=True)
        if r.timeline:
            console.print(f"  [dim]timeline (scenario time, from {r.start:%Y-%m-%d %H:%M} UTC)[/]", soft_wrap=True)
            several = len({t.incident for t in r.timeline}) > 1
            for t in r.timeline:
                key = f"[{t.incident}] " if several else ""
                console.print(
                    f"    [dim]{'+' + ago(t.at):>8}  {t.clock:%H:%M:%S}[/]  {escape(t.actor):<16} "
                    f"{escape(key + t.text)}",
                    soft_wrap=True,
                )
        console.print()
    failed = [r for r in results if not r.passed]
    style = "red" if failed else "green"
    console.print(
        f"[{style}]{len(results)} drill(s): {len(results) - len(failed)} passed, {len(failed)} failed[/]",
        soft_wrap=True,
    )


def drill_command(files: list[Path], config: str | None, as_json: bool) -> int:
    """`baton drill FILE... [--config PATH] [--json]`: prints, and returns the exit code (0 all passed, 1 a drill
    failed, 2 a scenario file or config cannot be used)."""
    err = Console(stderr=True)
    if not files:
        err.print("[red]error:[/red] name at least one scenario file, e.g. baton drill drills/*.yaml")
        return 2
    # Workers log what they do; in a drill that is noise on stdout (and would break --json): warnings to stderr.
    logging_before = structlog.get_config()
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    try:
        results = asyncio.run(run_drills(files, config))
    except DrillSetupError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}", soft_wrap=True)
        return 2
    except SystemExit as e:  # the test server binary is missing
        err.print(f"[red]error:[/red] {escape(str(e.code))}", soft_wrap=True)
        return 1
    finally:
        structlog.configure(**logging_before)
    if as_json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    else:
        render(results, Console())
    return 0 if all(r.passed for r in results) else 1
