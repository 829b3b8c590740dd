"""`coordination:` in the config: the defaults, a service's sections over them, and what the snapshot carries."""

from __future__ import annotations

import pytest

from incident.config import ConfigError, parse_config
from incident.models import Severity
from incident.state import IncidentPolicy
from tests.helpers.config import BASE_CONFIG

TWO_SERVICES = BASE_CONFIG.replace("SINK", "http://127.0.0.1:9").replace(
    "  checkout: {escalation: two-levels",
    "  search: {escalation: two-levels}\n  checkout: {escalation: two-levels",
)


def test_a_service_overrides_the_sections_it_sets_and_keeps_the_rest() -> None:
    text = (
        TWO_SERVICES
        + """
coordination:
  roles: [comms, scribe]
  lead_within: {SEV0: 5m, SEV1: 10m}
  slack:
    channel: {name: "inc-{id}-{service}", announce: "#incidents", archive_after: 7d}
  updates: {every: {SEV1: 30m}, internal: ["slack:#support"]}
"""
    )
    text = text.replace(
        '  checkout: {escalation: two-levels, customer_facing: true, runbook: "https://runbooks.example/checkout"}',
        "  checkout:\n    escalation: two-levels\n    customer_facing: true\n"
        "    coordination:\n      lead_within: {SEV2: 15m}\n"
        '      slack: {channel: {create: false, static: "#checkout"}}',
    )
    config = parse_config(text)
    checkout, search = config.coordination_for("checkout"), config.coordination_for("search")
    assert search == config.coordination
    assert checkout.roles == ["comms", "scribe"]  # not set by the service: the default
    assert checkout.lead_within == {Severity.SEV2: checkout.lead_within[Severity.SEV2]}  # set: the service's
    assert checkout.slack.channel is not None and checkout.slack.channel.static == "#checkout"
    assert checkout.updates.internal == ["slack:#support"]
    assert checkout.all_roles == ["lead", "comms", "scribe"]
    snapshot = IncidentPolicy.snapshot(config, "checkout")
    assert snapshot.coordination == checkout
    again = IncidentPolicy.model_validate_json(snapshot.model_dump_json())
    assert again.coordination == checkout  # durations and all survive the trip through Temporal


def test_a_config_without_coordination_has_no_channel_no_cadence_and_only_lead() -> None:
    config = parse_config(BASE_CONFIG.replace("SINK", "http://127.0.0.1:9"))
    c = config.coordination_for("checkout")
    assert c.all_roles == ["lead"] and not c.lead_within and c.slack.channel is None and not c.updates.every


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ("roles: [lead]", "lead is always a role"),
        ("roles: [comms, comms]", "listed twice"),
        ('roles: ["Comms Lead"]', "not a role name"),
        ('slack: {channel: {name: "inc-{team}"}}', "unknown field {team}"),
        ('slack: {channel: {name: "inc-{id"}}', "not a name template"),
        ('updates: {internal: ["#support"]}', "not an audience"),
        ("lead_within: {SEV9: 5m}", "SEV9"),
        ("lead_within: {SEV0: 0s}", "coordination.lead_within"),
    ],
)
def test_bad_coordination_is_refused_naming_the_field(section: str, says: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(BASE_CONFIG.replace("SINK", "http://127.0.0.1:9") + "coordination:\n  " + section + "\n")
    assert says in str(e.value)


def test_config_check_warns_of_update_audiences_nobody_can_post_to() -> None:
    config = parse_config(
        BASE_CONFIG.replace("SINK", "http://127.0.0.1:9")
        + 'coordination:\n  updates: {every: {SEV1: 30m}, internal: ["slack:#support", "email:support@example.com"]}\n'
    )
    said = [m for p, m in config.warnings() if p == ("coordination", "updates", "internal")]
    assert any("slack:#support: integrations.slack is not configured" in m for m in said)
    assert any("email:support@example.com: integrations.smtp is not configured" in m for m in said)
