"""The field types every file is written with: what they accept and what they say when they refuse."""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError

from incident.fields import HttpUrl, PositiveDuration, Secret, SecretRef, Strict, unknown


class _Section(Strict):
    token: SecretRef
    url: HttpUrl | None = None
    timeout: PositiveDuration = Field(default="30s", validate_default=True)


def test_a_secret_is_read_from_the_environment_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_FIELDS_TOKEN", "s3cret")
    section = _Section.model_validate({"token": "env:TEST_FIELDS_TOKEN"})
    assert section.token.reveal() == "s3cret" and "s3cret" not in repr(section)
    assert _Section.model_validate(section.model_dump()).token == section.token, "a dump reads back"
    assert repr(Secret(ref="inline-value")) == "Secret(***)"


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"token": 5}, "a secret is `env:VARIABLE`"),
        ({"token": ""}, "a secret is `env:VARIABLE`"),
        ({"token": "env:T", "url": "ftp://x"}, "'ftp://x' is not an http(s) URL"),
        ({"token": "env:T", "timeout": "0s"}, "timeout must be longer than 0s"),
        ({"token": "env:T", "tiemout": "5s"}, "Extra inputs are not permitted"),
    ],
)
def test_what_a_field_refuses_it_says_in_words(given: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError, match=says.replace("(", r"\(").replace(")", r"\)")):
        _Section.model_validate(given)


def test_an_unknown_name_lists_the_known_ones_sorted() -> None:
    assert unknown("person", "zed", ["bob", "alice"]) == "unknown person 'zed' (known: alice, bob)"
    assert unknown("schedule", "x", {}) == "unknown schedule 'x' (known: none defined)"
    assert unknown("service", "s", ["a"], "in the config") == "unknown service 's' in the config (known: a)"
