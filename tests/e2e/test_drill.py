"""`baton drill`: scenario files, the shipped drills against the example config, and a broken config caught."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from gateway.drill import drill_command, render, run_drills
from incident.config import load_config
from incident.policy import JUDGMENT, MACHINE_WORK
from incident.scenario import (
    CHECK_DELAY,
    DEFAULT_START,
    AlertEvent,
    Expectation,
    ScenarioError,
    Step,
    parse_scenario,
)

ROOT = Path(__file__).resolve().parents[2]
DRILLS = sorted((ROOT / "drills").glob("*.yaml"))
EXAMPLE = ROOT / "baton.example.yaml"
BATON = str(Path(sys.executable).parent / "baton")

GOOD = """
name: rollback waits for a yes
alerts:
  - {at: 0s, service: checkout, summary: "checkout 5xx above 5%", severity: SEV2, key: checkout-5xx}
steps:
  - {at: 1m, actor: "agent:triage", do: rollback, params: {version: 41}, rationale: deploy, expect: pending}
  - {at: 3m, actor: "human:alice", do: approve, expect: done}
expect:
  - {at: 1m, paged: dave}
  - {at: 1m, asked: {person: alice}}
  - {at: 5m, paged: 2}
"""


def test_a_scenario_puts_alerts_steps_and_expectations_on_one_clock() -> None:
    sc = parse_scenario(GOOD, "good.yaml")
    assert sc.start == DEFAULT_START and sc.config is None
    assert sc.steps[0].params == {"version": "41"}, "a number in params is text, as the action sees it"
    assert sc.expect[0].paged and sc.expect[0].paged.person == "dave"
    assert sc.expect[2].paged and sc.expect[2].paged.level == 2
    events = [(when, type(item).__name__, where) for when, item, where in sc.events()]
    # At the same instant: the alert, then the step, then what is checked (half a second later).
    assert events == [
        (timedelta(0), AlertEvent.__name__, "alerts[0]"),
        (timedelta(minutes=1), Step.__name__, "steps[0]"),
        (timedelta(minutes=1) + CHECK_DELAY, Expectation.__name__, "expect[0]"),
        (timedelta(minutes=1) + CHECK_DELAY, Expectation.__name__, "expect[1]"),
        (timedelta(minutes=3), Step.__name__, "steps[1]"),
        (timedelta(minutes=5) + CHECK_DELAY, Expectation.__name__, "expect[2]"),
    ]


BAD = """
name: typos
alerts:
  - {at: 1m, service: checkot, summary: "checkout 5xx", key: checkout-5xx}
steps:
  - at: 30s
    actor: agent:triage
    do: rollback
    expect: pending
  - at: 2m
    actor: alice
    do: approve
    expct: done
expect:
  - {at: 5m, paged: {level: 2}, status: triggered}
  - {at: 5m, severity: SEV1 proposed}
"""


def test_a_bad_scenario_names_the_file_the_yaml_path_and_the_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as e:
        parse_scenario(BAD, "typos.yaml")
    text = str(e.value)
    assert text.startswith("typos.yaml: 4 problem(s)")
    assert "line 11: steps[1].actor: 'alice' is not `human:NAME` or `agent:NAME`" in text
    assert "line 13: steps[1].expct: unknown field (check the spelling)" in text
    assert "line 15: expect[0]: an expectation checks exactly one of" in text
    assert "line 16: expect[1].severity: 'SEV1 proposed' is not a severity as shown" in text
    # Once the fields are right, what does not fit together is reported where it is written.
    fixed = BAD.replace("actor: alice", "actor: human:alice").replace("expct", "expect")
    fixed = fixed.replace(", status: triggered", "").replace("SEV1 proposed", "SEV1 (proposed)")
    with pytest.raises(ScenarioError, match=r"line 6: steps\[0\]: at 30s, before the incident opens"):
        parse_scenario(fixed, "typos.yaml")
    with pytest.raises(ScenarioError, match=r"line 3: \(top level\): not valid YAML"):
        parse_scenario("name: x\nalerts: [\n", "broken.yaml")
    # What the config does not have: checked before anything runs, exit code 2.
    bad = tmp_path / "unknown-service.yaml"
    bad.write_text(fixed.replace("at: 30s", "at: 90s"))
    assert drill_command([bad], str(EXAMPLE), as_json=False) == 2


def test_the_shipped_drills_cover_every_boundary_rule_and_escalation_policy() -> None:
    config = load_config(EXAMPLE)
    b = config.boundaries
    done: set[str] = set()
    severities: set[str] = set()
    services: set[str] = set()
    for path in DRILLS:
        data = yaml.safe_load(path.read_text())
        assert data.get("config") == "../baton.example.yaml", f"{path.name} drills the example config"
        for a in data["alerts"]:
            services.add(a.get("service") or config.default_service)
            severities.add(a.get("severity", "SEV3"))
        for s in data.get("steps", []):
            if s["actor"].startswith("agent:"):
                done.add({"severity": "triage_severity"}.get(s["do"], s["do"]))
    assert set(b.agent.auto) | set(b.agent.approval) | set(b.agent.never) <= done
    assert set(MACHINE_WORK) | set(JUDGMENT) <= done
    assert {s.value for s in b.autonomy} <= severities
    assert {config.services[s].escalation for s in services} == set(config.escalation_policies)


async def test_the_shipped_drills_pass_against_the_example_config() -> None:
    from rich.console import Console

    results = await run_drills(DRILLS, None)
    console = Console(record=True, width=200)
    render(results, console)
    assert [r.name for r in results if not r.passed] == [], console.export_text()
    assert len(results) == len(DRILLS) and all(r.checks for r in results)


def _broken(tmp_path: Path, *changes: tuple[str, str]) -> Path:
    """A copy of the example config with each (old, new) text replaced."""
    text = EXAMPLE.read_text()
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "baton.yaml"
    path.write_text(text)
    return path


def test_a_changed_config_fails_the_drill_saying_what_happened_instead(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slower = _broken(tmp_path, ("[schedule:payments-primary], after: 5m", "[schedule:payments-primary], after: 15m"))
    assert drill_command([ROOT / "drills/payments-escalation.yaml"], str(slower), as_json=False) == 1
    out = capsys.readouterr().out
    assert "FAIL  payments escalation" in out
    assert "✗ at 5m: expected dave paged at level 2; got: alice paged at level 1 at 0s; dave not at level 2" in out
    assert "✓ at 4m59s: level 2 not paged" in out

    never = _broken(
        tmp_path,
        ("approval: [rollback, customer_comms, resolve]", "approval: [customer_comms, resolve]"),
        ("never: [postmortem_conclusions]", "never: [postmortem_conclusions, rollback]"),
    )
    assert drill_command([ROOT / "drills/checkout-rollback-needs-approval.yaml"], str(never), as_json=False) == 1
    out = capsys.readouterr().out
    assert (
        "✗ at 1m: expected agent:triage rollback (version=v41): pending by a rule containing "
        "'boundaries.agent.approval'; got: refused: boundaries.agent.never" in out
    )


def test_json_lists_each_drill_with_its_expectations_and_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    assert drill_command([ROOT / "drills/approval-timeout-escalates.yaml"], None, as_json=True) == 0
    [drill] = json.loads(capsys.readouterr().out)
    assert drill["file"].endswith("drills/approval-timeout-escalates.yaml") and drill["passed"] is True
    assert {"file", "name", "passed", "expectations", "timeline"} <= set(drill)
    expired = next(e for e in drill["expectations"] if e["expect"] == "approval A1 expired")
    assert expired == {
        "at": "33m",
        "incident": "checkout-5xx",
        "expect": "approval A1 expired",
        "passed": True,
        "got": "A1 (rollback (version=v41)) expired at 33m",
        "line": 30,
    }
    asked = next(t for t in drill["timeline"] if "asking level 2" in t["text"])
    assert asked["at"] == "18m" and asked["clock"] == "2026-11-24T02:18:00+00:00" and asked["actor"] == "system"


def test_baton_drill_runs_the_shipped_drills() -> None:
    proc = subprocess.run(
        [BATON, "drill", *[str(p.relative_to(ROOT)) for p in DRILLS]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(DRILLS)} drill(s): {len(DRILLS)} passed, 0 failed" in proc.stdout
