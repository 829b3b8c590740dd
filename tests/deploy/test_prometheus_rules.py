"""The shipped alert rules for baton itself: valid for Prometheus, and firing when they should (promtool's unit
tests in deploy/prometheus/baton-rules.test.yaml); the Grafana dashboard over metrics baton exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers.prometheus import PROMTOOL

DEPLOY = Path(__file__).parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "baton-rules.yaml"
RULE_TESTS = DEPLOY / "prometheus" / "baton-rules.test.yaml"
DASHBOARD = DEPLOY / "grafana" / "baton.json"
ISSUE_RULES = {"BatonPagesFailing", "BatonNoWorkerPolling", "BatonIntake503s", "BatonEscalationLate", "Watchdog"}

needs_promtool = pytest.mark.integration  # runs Debian's promtool (scripts/test-deps installs it)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert Path(PROMTOOL).exists(), "needs Debian's prometheus (scripts/test-deps installs it)"
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, cwd=RULES.parent)


@needs_promtool
def test_the_rules_are_valid_for_prometheus() -> None:
    done = promtool("check", "rules", RULES.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ISSUE_RULES)} rules found" in done.stdout


@needs_promtool
def test_the_rules_fire_as_their_unit_tests_say() -> None:
    done = promtool("test", "rules", RULE_TESTS.name)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_promtool_test_rules_fails_when_an_expectation_is_wrong(tmp_path: Path) -> None:
    """The unit tests would catch a rule that stopped firing: the same tests with one wrong label fail."""
    (tmp_path / RULES.name).write_text(RULES.read_text())
    wrong = RULE_TESTS.read_text().replace("method: webhook}", "method: email}", 1)
    assert wrong != RULE_TESTS.read_text()
    (tmp_path / RULE_TESTS.name).write_text(wrong)
    done = subprocess.run([PROMTOOL, "test", "rules", RULE_TESTS.name], capture_output=True, text=True, cwd=tmp_path)
    assert "FAILED" in done.stdout + done.stderr
    assert done.returncode != 0


def test_every_rule_is_tested_and_labelled() -> None:
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    assert {r["alert"] for r in rules} == ISSUE_RULES
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    tested = {t["alertname"] for case in cases for t in case["alert_rule_test"]}
    assert tested == ISSUE_RULES
    for rule in rules:
        assert rule["labels"]["component"] == "baton" and rule["annotations"]["summary"]


def baton_metric_names() -> set[str]:
    """Every metric name baton's own code registers, as Prometheus exposes it."""
    from prometheus_client import REGISTRY

    import activities.metrics  # noqa: F401  (registers the worker's)
    import gateway.intake.metrics  # noqa: F401  (registers the intake's)

    names: set[str] = set()
    for family in REGISTRY.collect():
        if family.name.startswith("baton_"):
            suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}.get(family.type, [""])
            names |= {family.name, *(family.name + s for s in suffixes)}
    return names | {"baton_incidents_open", "baton_approvals_pending"}  # exported once Temporal has been read


def test_the_rules_and_the_dashboard_use_only_metrics_that_exist() -> None:
    """A renamed metric would leave a rule that never fires and a panel that shows nothing."""
    known = baton_metric_names()
    used = set(re.findall(r"\bbaton_[a-z_]+", RULES.read_text()))
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used |= {m for e in exprs for m in re.findall(r"\bbaton_[a-z_]+", e)}
    assert used and used <= known, used - known


def test_the_dashboard_is_a_grafana_dashboard_over_a_prometheus_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] and dashboard["schemaVersion"] >= 36
    assert any(v["type"] == "datasource" and v["query"] == "prometheus" for v in dashboard["templating"]["list"])
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"] and all(t["expr"] for t in panel["targets"])
