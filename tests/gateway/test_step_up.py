"""A one-time code shows the person is present: the right code now (or from the step just before, for a clock a
little off) is accepted once and gives its time step; a wrong, reused or unknown person's code is refused in plain
words."""

from __future__ import annotations

import time

import pyotp
import pytest

from gateway.step_up import StepUp, StepUpRefused
from tests.helpers.config import BASE_CONFIG, make_config

SECRET = pyotp.random_base32()
CONFIG = BASE_CONFIG.replace("alice: {name: Alice,", f"alice: {{name: Alice, totp: {SECRET},")


@pytest.fixture
def step_up() -> StepUp:
    return StepUp(make_config(base=CONFIG))


def test_the_code_shown_now_is_accepted_and_gives_its_time_step(step_up: StepUp) -> None:
    step = step_up.check("alice", pyotp.TOTP(SECRET).now())
    assert abs(step - int(time.time()) // 30) <= 1


def test_a_wrong_code_is_refused(step_up: StepUp) -> None:
    right = pyotp.TOTP(SECRET).now()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    with pytest.raises(StepUpRefused, match="wrong or expired code for alice"):
        step_up.check("alice", wrong)


def test_the_same_code_twice_is_refused(step_up: StepUp) -> None:
    code = pyotp.TOTP(SECRET).now()
    step_up.check("alice", code)
    with pytest.raises(StepUpRefused, match="already used"):
        step_up.check("alice", code)


def test_a_code_from_the_step_before_is_accepted(step_up: StepUp) -> None:
    then = time.time() - 30
    assert step_up.check("alice", pyotp.TOTP(SECRET).at(then)) == int(then) // 30


def test_a_code_from_long_ago_is_refused(step_up: StepUp) -> None:
    old = pyotp.TOTP(SECRET).at(time.time() - 300)
    if old in {pyotp.TOTP(SECRET).at(time.time() + d) for d in (-30, 0, 30)}:
        pytest.skip("the old code happens to equal a current one")
    with pytest.raises(StepUpRefused, match="wrong or expired"):
        step_up.check("alice", old)


def test_a_person_without_a_secret_or_not_in_the_config_is_refused(step_up: StepUp) -> None:
    with pytest.raises(StepUpRefused, match="no one-time code is set up for bob"):
        step_up.check("bob", "123456")
    with pytest.raises(StepUpRefused, match="no one-time code is set up for mallory"):
        step_up.check("mallory", "123456")


def test_something_else_than_six_digits_is_refused(step_up: StepUp) -> None:
    for code in ("12345", "1234567", "abcdef", ""):
        with pytest.raises(StepUpRefused, match="not a 6-digit code"):
            step_up.check("alice", code)


def test_an_unset_environment_variable_is_named() -> None:
    unset = BASE_CONFIG.replace("alice: {name: Alice,", "alice: {name: Alice, totp: env:NO_SUCH_TOTP_VAR,")
    config = make_config(base=unset)
    with pytest.raises(StepUpRefused, match="NO_SUCH_TOTP_VAR is not set"):
        StepUp(config).check("alice", "123456")
