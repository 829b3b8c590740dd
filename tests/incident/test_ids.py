"""Workflow ids: one alert stream, one id. Injective, bounded, and unchanged for every id in use today."""

from __future__ import annotations

import hashlib
import re

from hypothesis import given
from hypothesis import strategies as st

from incident.ids import MAX_WORKFLOW_ID, workflow_id_for

_LEGACY_SAFE_KEY = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,200}$")


def legacy(scope: str, key: str) -> str:
    """The scheme before ids were made injective, to pin that running incidents keep theirs."""
    k = key if _LEGACY_SAFE_KEY.match(key) else "sha256-" + hashlib.sha256(key.encode()).hexdigest()
    return f"incident:{scope}:{k}"


SOURCES = st.sampled_from(["events", "alertmanager", "grafana", "datadog"])
TEXT = st.text(min_size=0, max_size=300)
SCOPES = st.one_of(SOURCES, st.tuples(SOURCES, TEXT).map(lambda t: f"{t[0]}:{t[1]}"))
KEYS = st.one_of(st.text(min_size=1, max_size=300), st.from_regex(r"[a-z0-9:.%-]{1,12}", fullmatch=True))


@given(SCOPES, KEYS, SCOPES, KEYS)
def test_two_streams_never_share_an_id(s1: str, k1: str, s2: str, k2: str) -> None:
    if (s1, k1) != (s2, k2):
        assert workflow_id_for(s1, k1) != workflow_id_for(s2, k2)


@given(SCOPES, KEYS)
def test_ids_are_bounded(scope: str, key: str) -> None:
    assert len(workflow_id_for(scope, key)) <= MAX_WORKFLOW_ID


def test_the_reported_collisions_are_two_incidents() -> None:
    assert workflow_id_for("events:team:checkout", "5xx") != workflow_id_for("events:team", "checkout:5xx")
    assert workflow_id_for("datadog:7", "x") != workflow_id_for("datadog", "7:x")
    assert workflow_id_for("grafana:1:2", "g") != workflow_id_for("grafana:1", "2:g")
    assert workflow_id_for("alertmanager:1", "g") != workflow_id_for("alertmanager", "1:g")


def test_a_raw_key_never_equals_a_hashed_one() -> None:
    hashed = workflow_id_for("events:checkout", "a key with spaces")
    raw = hashed.removeprefix("incident:events:checkout:")
    assert raw.startswith("sha256-")
    assert workflow_id_for("events:checkout", raw) != hashed


def test_a_thousand_digit_org_is_a_short_id() -> None:
    assert len(workflow_id_for("grafana:" + "9" * 1000, "g")) <= MAX_WORKFLOW_ID


SAFE_PART = st.from_regex(r"[A-Za-z0-9._@/+= -]{1,64}", fullmatch=True).filter(lambda s: not s.startswith("sha256-"))
SAFE_KEY = st.from_regex(r"[A-Za-z0-9._@/+=-]{1,200}", fullmatch=True).filter(lambda s: not s.startswith("sha256-"))


@given(SOURCES, SAFE_PART, st.one_of(SAFE_KEY, st.from_regex(r"[a-z0-9]{1,8}:[a-z0-9:]{1,8}", fullmatch=True)))
def test_ids_in_use_today_stay_byte_identical(source: str, part: str, key: str) -> None:
    scope = f"{source}:{part}"
    assert workflow_id_for(scope, key) == legacy(scope, key)


@given(SOURCES, SAFE_KEY, st.text(min_size=1, max_size=300))
def test_ids_in_use_today_stay_byte_identical_without_a_part(source: str, key: str, odd: str) -> None:
    assert workflow_id_for(source, key) == legacy(source, key)
    if not odd.startswith("sha256-") and ":" not in odd:
        assert workflow_id_for(source, odd) == legacy(source, odd)


def test_the_documented_ids() -> None:
    assert workflow_id_for("events:checkout", "checkout-5xx") == "incident:events:checkout:checkout-5xx"
    assert workflow_id_for("events:checkout", "a:b") == "incident:events:checkout:a:b"
    assert workflow_id_for("grafana:1", "abc") == "incident:grafana:1:abc"
    assert workflow_id_for("datadog", "123") == "incident:datadog:123"
    long_key = "k" * 300
    assert workflow_id_for("events:x", long_key) == legacy("events:x", long_key)


@given(SOURCES, st.text(alphabet="a:%-", min_size=1, max_size=12))
def test_every_way_of_cutting_the_same_text_is_its_own_stream(source: str, text: str) -> None:
    """`source:a:b:c` read as (scope, key) in every way it can be: each must get its own id."""
    pairs = {(source, text)} | {(f"{source}:{text[:i]}", text[i + 1 :]) for i, c in enumerate(text) if c == ":"}
    pairs |= {(f"{source}:{text[:i]}", text[i:]) for i in range(len(text) + 1)}
    ids = {workflow_id_for(scope, key) for scope, key in pairs}
    assert len(ids) == len(pairs)
