"""A person gets an authenticator with `baton people enrol` (an otpauth URI whose secret makes the codes the gateway
accepts, printed once), and `baton config check` warns about anyone who may decide a judgment call but could not
show they are there."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyotp

from gateway.step_up import StepUp
from tests.gateway.test_cli import Cli
from tests.helpers.config import BASE_CONFIG, make_config

SLACK = "  slack: {bot_token: env:TEST_SLACK_TOKEN}\n"


def config_file(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "baton.yaml"
    path.write_text(text.replace("SINK", "http://127.0.0.1:9"))
    return dict(os.environ) | {"BATON_CONFIG": str(path), "TEST_INTAKE_TOKEN": "x", "TEST_SLACK_TOKEN": "x"}


async def test_enrol_prints_an_otpauth_uri_whose_secret_makes_codes_the_gateway_accepts(tmp_path: Path) -> None:
    text = BASE_CONFIG.replace("alice: {name: Alice,", "alice: {name: Alice, totp: env:ALICE_TOTP,")
    env = config_file(tmp_path, text)
    run = await Cli(env)("people", "enrol", "alice")
    assert run.code == 0, run.err
    uri = next(line.strip() for line in run.out.splitlines() if line.strip().startswith("otpauth://"))
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP) and totp.issuer == "baton" and totp.name == "alice"
    assert totp.digits == 6 and totp.interval == 30
    assert f"export ALICE_TOTP={totp.secret}" in run.out, "the variable the config names"
    # the gateway, holding that secret, accepts the code the app shows
    held = BASE_CONFIG.replace("alice: {name: Alice,", f"alice: {{name: Alice, totp: {totp.secret},")
    config = make_config(base=held)
    assert StepUp(config).check("alice", totp.now()) >= int(time.time()) // 30 - 1
    again = await Cli(env)("people", "enrol", "alice")
    assert pyotp.parse_uri(next(x.strip() for x in again.out.splitlines() if "otpauth://" in x)).secret != totp.secret
    assert not list(tmp_path.iterdir())[1:], "nothing is written beside the config"


async def test_enrol_suggests_a_variable_and_refuses_someone_not_in_the_config(tmp_path: Path) -> None:
    env = config_file(tmp_path, BASE_CONFIG)
    run = await Cli(env)("people", "enrol", "bob", "--json")
    assert run.code == 0 and run.json["env"] == "BATON_TOTP_BOB" and not run.json["configured"]
    assert pyotp.parse_uri(run.json["uri"]).secret == run.json["secret"]
    nobody = await Cli(env)("people", "enrol", "mallory")
    assert nobody.code == 2 and "'mallory' is not a person" in nobody.err


async def test_config_check_warns_about_an_approver_who_cannot_step_up(tmp_path: Path) -> None:
    # alice has a code, dave a Slack id with Slack configured; bob approves customer comms and has neither
    text = BASE_CONFIG.replace("alice: {name: Alice,", "alice: {name: Alice, totp: env:ALICE_TOTP,")
    text = text.replace("dave:  {name: Dave,", "dave:  {name: Dave, slack: U0DAVE,") + SLACK
    text += "boundaries: {approvers: {default: [oncall], customer_comms: [oncall, user:bob]}}\n"
    run = await Cli(config_file(tmp_path, text))("config", "check", "--json")
    assert run.code == 0, run.err
    warned = [w for w in run.json["warnings"] if "boundaries.step_up" in w]
    assert warned == [
        "people.bob: may decide customer_comms (boundaries.step_up) but has no way to show they are there: "
        "give them a totp (`baton people enrol bob`) or a slack id with integrations.slack"
    ]
    # a Slack id without Slack configured is no way to be there
    no_slack = await Cli(config_file(tmp_path, text.replace(SLACK, "")))("config", "check", "--json")
    assert [w.split(":")[0] for w in no_slack.json["warnings"] if "step_up" in w] == ["people.bob", "people.dave"]
    # nothing needs stepping up: nobody is warned
    off = text.replace("boundaries: {", "boundaries: {step_up: [], ")
    assert not [w for w in (await Cli(config_file(tmp_path, off))("config", "check", "--json")).json["warnings"]]
