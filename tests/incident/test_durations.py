"""Durations cross into Temporal as text: whatever the config accepts must come back exactly as it was read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter
from temporalio.contrib.pydantic import pydantic_data_converter

from incident.durations import Duration, format_duration, parse_duration
from incident.fields import PositiveDuration
from incident.state import IncidentPolicy
from tests.helpers.config import make_config

MS = st.integers(min_value=0, max_value=10 * 365 * 86_400_000).map(lambda n: timedelta(milliseconds=n))


@given(MS)
def test_every_duration_round_trips_through_its_text(d: timedelta) -> None:
    assert parse_duration(format_duration(d)) == d


@given(MS)
def test_every_duration_field_round_trips_through_the_model(d: timedelta) -> None:
    for kind in (Duration, PositiveDuration):
        if kind is PositiveDuration and not d:
            continue
        adapter: TypeAdapter[timedelta] = TypeAdapter(kind)
        assert adapter.validate_python(adapter.dump_python(d, mode="json")) == d


@pytest.mark.parametrize("value", [0.0005, 1.0005, -1, float("nan"), float("inf"), "-5m", "99999999999999999d"])
def test_what_cannot_be_written_back_is_refused_when_read(value: str | float) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


def test_a_policy_with_sub_second_durations_reaches_the_workflow_unchanged() -> None:
    base = make_config().model_dump(mode="json")
    base["escalation_policies"]["sub"] = {
        "levels": [{"notify": ["user:alice"], "after": "1500ms"}, {"notify": ["user:dave"], "after": "250ms"}],
        "repeat": 1,
        "ack_timeout": "2s500ms",
    }
    base["services"]["checkout"]["escalation"] = "sub"
    base["services"]["checkout"]["context"] = {"deadline": "500ms"}
    config = type(make_config()).model_validate(base)
    policy = IncidentPolicy.snapshot(config, "checkout")
    conv = pydantic_data_converter.payload_converter
    back = conv.from_payloads(conv.to_payloads([policy]), [IncidentPolicy])[0]
    assert back == policy
    assert back.escalation.levels[0].after == timedelta(milliseconds=1500)
    assert back.context.deadline == timedelta(milliseconds=500)


class _Carrier(BaseModel):
    d: Duration


def test_a_timedelta_with_microseconds_is_refused_not_truncated() -> None:
    with pytest.raises(ValueError, match="duration"):
        _Carrier(d=timedelta(microseconds=1500))
