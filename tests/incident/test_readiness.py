"""Readiness finds each gap kind in a config built for it, and nothing in one that has none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incident.config import parse_config
from incident.readiness import DrillOutcome, Facts, Readiness, ReadinessRun, check, new_gaps, notice_text

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday, before the 09:00 handoff

READY = """
people:
  alice: {webhook: "https://hooks.example/alice", totp: env:ALICE_TOTP}
  bob:   {webhook: "https://hooks.example/bob", totp: env:BOB_TOTP}
schedules:
  primary:
    layers: [{members: [alice, bob], rotation: weekly, handoff: "mon 09:00"}]
escalation_policies:
  main: {levels: [{notify: [schedule:primary], after: 5m}, {notify: [user:alice], after: 10m}]}
services:
  checkout: {escalation: main, runbook: "https://runbooks.example/checkout"}
integrations:
  heartbeats: {token: hb-token}
heartbeats:
  nightly-backup: {service: checkout, every: 24h}
"""
DELIVERED = Facts(
    delivered={"alice": ["webhook"], "bob": ["webhook"]}, incidents_read=3, heartbeats={"nightly-backup": AT}
)


def kinds(r: Readiness) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for g in r.gaps:
        out.setdefault(g.kind, []).append(g.where)
    return out


def test_a_config_without_gaps_is_ready() -> None:
    r = check(parse_config(READY), AT, 14, DELIVERED)
    assert r.ok, [g.message for g in r.gaps]
    assert r.not_known == []


def test_shifts_with_nobody_on_call_are_found_with_their_windows() -> None:
    text = READY.replace(
        'layers: [{members: [alice, bob], rotation: weekly, handoff: "mon 09:00"}]',
        'layers: [{members: [alice, bob], rotation: daily, handoff: "09:00", '
        'restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]}]',
    )
    r = check(parse_config(text), AT, 7, DELIVERED)
    gap = next(g for g in r.gaps if g.kind == "nobody_on_call")
    assert gap.where == "schedules.primary" and gap.count >= 5
    assert gap.windows[0].start == AT  # nobody before 09:00 on Monday
    assert "nobody is on call" in gap.message
    # the level that only names the schedule reaches nobody then; the one naming alice still reaches her
    levels = kinds(r)["level_reaches_nobody"]
    assert levels == ["escalation_policies.main.levels.0"]


def test_an_on_call_person_without_a_contact_method() -> None:
    text = READY.replace('{webhook: "https://hooks.example/bob", totp: env:BOB_TOTP}', "{totp: env:BOB_TOTP}")
    r = check(parse_config(text), AT, 14, DELIVERED)
    assert kinds(r)["no_contact_method"] == ["people.bob"]
    # from Monday 09:00 the schedule's level resolves to bob alone, whom nothing reaches
    nobody = next(g for g in r.gaps if g.kind == "level_reaches_nobody")
    assert nobody.where == "escalation_policies.main.levels.0" and "no contact method" in nobody.message


def test_a_contact_method_that_never_delivered_and_one_not_known() -> None:
    cfg = parse_config(READY)
    unproven = check(cfg, AT, 14, DELIVERED.model_copy(update={"delivered": {"alice": ["webhook"]}}))
    assert kinds(unproven)["contact_never_used"] == ["people.bob"]
    unknown = check(cfg, AT, 14, Facts(heartbeats={"nightly-backup": AT}))
    assert "contact_never_used" not in kinds(unknown)
    assert any("could not be read" in n for n in unknown.not_known)
    quiet = check(cfg, AT, 14, Facts(delivered={}, incidents_read=0, heartbeats={"nightly-backup": AT}))
    assert "contact_never_used" not in kinds(quiet) and any("no recent incident" in n for n in quiet.not_known)


def test_an_escalation_level_that_resolves_to_nobody() -> None:
    text = READY.replace(
        "  primary:\n",
        '  empty:\n    layers: [{members: [alice], rotation: weekly, handoff: "mon 09:00",\n'
        '              restrictions: [{days: [sun], start: "00:00", end: "01:00"}]}]\n  primary:\n',
    ).replace("{notify: [user:alice], after: 10m}", "{notify: [schedule:empty], after: 10m}")
    r = check(parse_config(text), AT, 3, DELIVERED)
    gap = next(g for g in r.gaps if g.kind == "level_reaches_nobody")
    assert gap.where == "escalation_policies.main.levels.1" and "resolves to nobody" in gap.message


def test_an_approver_with_no_way_to_approve_a_step_up_action() -> None:
    text = READY.replace(", totp: env:BOB_TOTP}", "}")
    r = check(parse_config(text), AT, 14, DELIVERED)
    gap = next(g for g in r.gaps if g.kind == "cannot_approve")
    assert gap.where == "people.bob" and "baton people enrol bob" in gap.message


def test_a_service_without_a_runbook() -> None:
    text = READY.replace(', runbook: "https://runbooks.example/checkout"', "")
    assert kinds(check(parse_config(text), AT, 14, DELIVERED))["no_runbook"] == ["services.checkout.runbook"]


def test_a_heartbeat_never_pinged_or_not_known() -> None:
    cfg = parse_config(READY)
    never = check(cfg, AT, 14, DELIVERED.model_copy(update={"heartbeats": {"nightly-backup": None}}))
    assert kinds(never)["heartbeat_never_pinged"] == ["heartbeats.nightly-backup"]
    unknown = check(cfg, AT, 14, DELIVERED.model_copy(update={"heartbeats": None}))
    assert "heartbeat_never_pinged" not in kinds(unknown)
    assert any("heartbeats" in n for n in unknown.not_known)


def test_incident_commanders_missing_is_a_role_that_reaches_nobody() -> None:
    r = check(parse_config(READY + "coordination: {lead_within: {SEV1: 10m}}\n"), AT, 14, DELIVERED)
    assert kinds(r)["role_reaches_nobody"] == ["coordination.lead_within"]


def test_the_notice_names_failures_and_only_new_gaps() -> None:
    cfg = parse_config(READY.replace(', runbook: "https://runbooks.example/checkout"', ""))
    first = ReadinessRun(at=AT, config_file="baton.yaml", readiness=check(cfg, AT, 14, DELIVERED))
    assert [g.kind for g in new_gaps(first.readiness, None)] == ["no_runbook"]  # type: ignore[arg-type]
    text = notice_text(first, None)
    assert text is not None and "new gap: services.checkout.runbook" in text
    later = first.model_copy(update={"at": AT + timedelta(days=1)})
    assert notice_text(later, first) is None, "a gap already told is not told again"
    broken = later.model_copy(
        update={"drills": [DrillOutcome(file="d.yaml", name="pages alice", passed=False, problem="expected x")]}
    )
    told = notice_text(broken, first)
    assert told is not None and "drill failed: pages alice (d.yaml): expected x" in told
    assert not broken.passed and first.passed


def test_the_config_refuses_heartbeats_and_readiness_that_point_at_nothing() -> None:
    import pytest

    from incident.config import ConfigError

    text = READY.replace("service: checkout, every: 24h", "service: billing, every: 24h").replace(
        "integrations:\n  heartbeats: {token: hb-token}\n", ""
    )
    with pytest.raises(ConfigError) as e:
        parse_config(text + "readiness: {notify: [user:zed]}\n")
    messages = {p.path: p.message for p in e.value.problems}
    assert "unknown service 'billing'" in messages["heartbeats.nightly-backup.service"]
    assert "integrations.heartbeats" in messages["integrations.heartbeats"]
    assert "unknown person 'zed'" in messages["readiness.notify[0]"]
