"""`baton`: the command line for responders. Exit codes: 0 ok, 1 refused or not found, 2 bad usage or config.

This module is the command table, in the order `baton --help` lists them; the commands live by what they do:
`reading` (incidents), `acting` (a human's updates), `roles` (who leads), `updates` (stakeholder updates),
`policy` (the config, boundaries, on-call), `audit` (what-if and audit, over past histories), `agents` (their
records), `processes` (what starts and keeps running, and drills), `heartbeats`, `maintenance` and `readiness`
(before the page), with what they share in `common`.
"""

from __future__ import annotations

import os
import sys

import typer

from gateway.cli import (
    acting,
    agents,
    audit,
    keys,
    people,
    policy,
    processes,
    readiness,
    reading,
    roles,
    updates,
    upgrades,
)
from gateway.cli.heartbeats import heartbeats_app
from gateway.cli.maintenance import maintenance_app

app = typer.Typer(
    name="baton",
    help="Durable incident response: the agent coordinates, humans decide.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Check the config file.", no_args_is_help=True)
app.add_typer(config_app, name="config")
boundaries_app = typer.Typer(help="What an agent may do alone, what needs a human, what it may never do.")
app.add_typer(boundaries_app, name="boundaries")
keys_app = typer.Typer(help="The gateway's signing key: what workers trust, and rotating it.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
people_app = typer.Typer(help="What a person needs to act: an authenticator for one-time codes.", no_args_is_help=True)
app.add_typer(people_app, name="people")
app.add_typer(heartbeats_app, name="heartbeats")
app.add_typer(maintenance_app, name="maintenance")

for command in (
    reading.incidents,
    reading.show,
    acting.ack,
    roles.lead,
    roles.role,
    acting.resolve,
    acting.note,
    updates.update,
    policy.oncall,
    readiness.readiness,
    acting.severity,
    reading.watch,
    acting.page,
    acting.escalate,
    reading.postmortem,
    acting.approve,
    acting.deny,
    acting.reload,
    processes.drill,
    processes.mcp,
    processes.worker,
    processes.intake,
    processes.up,
    upgrades.replay_check,
    audit.audit,
    agents.agents,
):
    app.command()(command)
config_app.command("check")(policy.config_check)
boundaries_app.command("show")(policy.boundaries_show)
boundaries_app.command("report")(policy.boundaries_report)
boundaries_app.command("what-if")(audit.what_if_cmd)
keys_app.command("new")(keys.keys_new)
keys_app.command("show")(keys.keys_show)
people_app.command("enrol")(people.enrol)


def main() -> None:
    """Run the CLI and leave without interpreter finalisation: Temporal's native runtime keeps threads that can
    crash a finalising interpreter (seen as a rare segfault after `baton show` had printed its answer)."""
    try:
        app()
        code = 0
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
