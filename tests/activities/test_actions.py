"""Action runners: config, templating, and the `run_action` activity against a real HTTP server and real processes."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.actions import DETAIL_LIMIT, ActionActivities, RunActionRequest
from incident.actions import ActionRunner, Renderer, TemplateError
from incident.approvals import ActionRun
from incident.config import Config, ConfigError, parse_config
from tests.helpers.http import HttpRequest, free_port, loopback_http

GITHUB_TOKEN = "ghp-test-0123456789"
STATUSPAGE_KEY = "sp-test-key"


def config(actions: dict[str, Any] | None = None, checkout: dict[str, Any] | None = None, **extra: Any) -> Config:
    """A small valid config: top-level `actions`, and `checkout`'s own runners; `payments` has none."""
    data: dict[str, Any] = {
        "people": {"alice": {"name": "Alice"}},
        "escalation_policies": {"p": {"levels": [{"notify": ["user:alice"], "after": "5m"}]}},
        "services": {
            "checkout": {"escalation": "p", "actions": checkout or {}},
            "payments": {"escalation": "p"},
        },
        "routing": {"default_service": "checkout"},
        "boundaries": {
            "custom_actions": ["restart_pods"],
            "agent": {"approval": ["rollback", "customer_comms", "resolve", "restart_pods"]},
        },
        "actions": actions or {},
        **extra,
    }
    return parse_config(yaml.safe_dump(data, sort_keys=False))


def request(**overrides: Any) -> RunActionRequest:
    fields: dict[str, Any] = {
        "incident_id": "INC-7K2Q9M",
        "workflow_id": "incident-INC-7K2Q9M",
        "approval_id": "A1",
        "service": "checkout",
        "action": "rollback",
        "params": {"version": "v41"},
        "requested_by": "agent:triage",
        "approved_by": "alice",
    }
    return RunActionRequest(**(fields | overrides))


async def run(cfg: Config, req: RunActionRequest, dry_run: bool = False) -> ActionRun:
    async with httpx.AsyncClient() as http:
        return await ActivityEnvironment().run(ActionActivities(cfg, http, dry_run=dry_run).run_action, req)


class Recorder:
    """The other side of a webhook or the Statuspage API: records requests, answers `status` with `body`."""

    def __init__(self, status: int = 200, body: Any = None):
        self.status = status
        self.body = body
        self.requests: list[HttpRequest] = []
        self.lock = threading.Lock()

    def __call__(self, req: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.requests.append(req)
        raw = b"" if self.body is None else json.dumps(self.body).encode()
        return self.status, {"Content-Type": "application/json"} if raw else {}, raw

    def only(self) -> tuple[HttpRequest, dict[str, str], Any]:
        """The one request received, its headers with lowercase names, and its JSON body."""
        assert len(self.requests) == 1, self.requests
        req = self.requests[0]
        return req, {k.lower(): v for k, v in req.headers.items()}, json.loads(req.body or b"null")


@contextmanager
def server(status: int = 200, body: Any = None) -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder(status, body)
    with loopback_http(recorder) as url:
        yield url, recorder


VERSION = {"version": {"pattern": "v[0-9]+.*"}}


def dispatch_runner(url: str, timeout: str = "5s") -> dict[str, Any]:
    """A GitHub Actions workflow_dispatch, as docs/actions.md shows it."""
    return {
        "rollback": {
            "params": VERSION,
            "webhook": {
                "url": url + "/repos/acme/checkout/actions/workflows/rollback.yml/dispatches?note={version}",
                "headers": {
                    "Authorization": {"secret": "env:TEST_GITHUB_TOKEN", "prefix": "Bearer "},
                    "Accept": "application/vnd.github+json",
                },
                "body": {
                    "ref": "main",
                    "inputs": {"version": "{version}", "incident": "{incident_id}", "literal": "{{version}}"},
                },
                "timeout": timeout,
            },
        }
    }


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_GITHUB_TOKEN", GITHUB_TOKEN)
    monkeypatch.setenv("TEST_STATUSPAGE_KEY", STATUSPAGE_KEY)


# ---- config ----------------------------------------------------------------------------------------------------


def test_an_actions_key_that_is_no_action_is_a_config_error_with_its_path_and_line() -> None:
    text = yaml.safe_dump(
        {
            "people": {"alice": {}},
            "escalation_policies": {"p": {"levels": [{"notify": ["user:alice"], "after": "5m"}]}},
            "services": {"checkout": {"escalation": "p", "actions": {"restart_pods": {"command": {"argv": ["x"]}}}}},
            "actions": {"rolback": {"webhook": {"url": "https://ci.example.com/hook"}}},
        },
        sort_keys=False,
    )
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    problems = {p.path: p for p in e.value.problems}
    assert set(problems) == {"actions.rolback", "services.checkout.actions.restart_pods"}
    assert "unknown action 'rolback'" in problems["actions.rolback"].message
    assert "boundaries.custom_actions" in problems["services.checkout.actions.restart_pods"].message
    assert problems["actions.rolback"].line == text.splitlines().index("  rolback:") + 1


def test_a_custom_action_may_have_a_runner() -> None:
    cfg = config(checkout={"restart_pods": {"command": {"argv": ["./restart.sh", "{service}"], "timeout": "2m"}}})
    runner = cfg.services["checkout"].actions["restart_pods"]
    assert runner.kind == "command" and runner.describe() == "command ./restart.sh"
    assert runner.command is not None and runner.command.timeout.total_seconds() == 120


@pytest.mark.parametrize(
    ("runner", "message"),
    [
        ({"webhook": {"url": "https://x.example"}, "command": {"argv": ["x"]}}, "exactly one of"),
        ({}, "exactly one of"),
        ({"webhook": {"url": "ftp://x.example"}}, "not an http(s) URL"),
        ({"webhook": {"url": "https://x.example", "headers": {"Authorization": "Bearer env:TOKEN"}}}, "secret:"),
        ({"command": {"argv": []}}, "at least 1"),
        ({"command": {"argv": ["x"], "timeout": "0s"}}, "longer than 0s"),
        ({"command": {"argv": ["x"], "timeout": "15m"}}, "at most 9m"),
        ({"webhook": {"url": "https://x.example", "timeout": "1h"}}, "at most 9m"),
        ({"statuspage": {"page_id": "abc", "api_key": "env:K", "timeout": "10m"}}, "at most 9m"),
        ({"statuspage": {"page_id": "abc", "api_key": "env:K", "status": "fine"}}, "investigating"),
    ],
)
def test_a_bad_runner_is_a_config_error_at_its_path(runner: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        config(actions={"rollback": runner})
    assert any(p.path.startswith("actions.rollback") and message in p.message for p in e.value.problems), str(e.value)


def test_header_secrets_are_secrets() -> None:
    runner = ActionRunner.model_validate(dispatch_runner("https://api.github.com")["rollback"])
    [(path, secret)] = runner.secrets()
    assert path == ("webhook", "headers", "Authorization", "secret")
    assert secret.env_var == "TEST_GITHUB_TOKEN" and GITHUB_TOKEN not in repr(runner)


# ---- templating ------------------------------------------------------------------------------------------------


def test_placeholders_fill_urls_encoded_and_text_as_is() -> None:
    r = Renderer({"version": "v41/rc 1&x", "service": "checkout"})
    assert (
        r.text("https://ci/{service}/deploy?v={version}", url=True) == "https://ci/checkout/deploy?v=v41%2Frc%201%26x"
    )
    assert r.text("{version} ${{ github.ref }} {{version}} {not a placeholder}") == (
        "v41/rc 1&x ${{ github.ref }} {version} {not a placeholder}"
    )
    assert r.json({"a": ["{service}", 3, True, None], "{service}": {"b": "{version}"}}) == {
        "a": ["checkout", 3, True, None],
        "{service}": {"b": "v41/rc 1&x"},
    }
    r.check()


def test_every_missing_placeholder_is_named() -> None:
    r = Renderer({"text": None})
    r.text("{version} {env} {text} {version}")
    with pytest.raises(TemplateError) as e:
        r.check()
    assert e.value.missing == ["version", "env", "text"]
    assert str(e.value) == (
        "parameters 'version', 'env' are missing: the request must pass params {version: ..., env: ...}; "
        "placeholder {text} is empty: the request has no text (the message to post)"
    )


# ---- webhook ---------------------------------------------------------------------------------------------------


async def test_a_webhook_dispatches_with_templating_secret_and_idempotency_key() -> None:
    with server(204) as (url, hook):
        cfg = config(checkout=dispatch_runner(url))
        result = await run(cfg, request(params={"version": "v41/rc 1"}))
    req, headers, body = hook.only()
    assert req.method == "POST"
    assert req.path == "/repos/acme/checkout/actions/workflows/rollback.yml/dispatches?note=v41%2Frc%201"
    assert headers["authorization"] == f"Bearer {GITHUB_TOKEN}"
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["idempotency-key"] == "incident-INC-7K2Q9M/A1"
    assert headers["user-agent"] == "baton"
    assert headers["content-type"] == "application/json"
    assert body == {"ref": "main", "inputs": {"version": "v41/rc 1", "incident": "INC-7K2Q9M", "literal": "{version}"}}
    assert result.ok and result.ran and not result.dry_run
    path = "/repos/acme/checkout/actions/workflows/rollback.yml/dispatches?note={version}"
    assert result.runner == f"webhook POST {url}{path}"
    assert "answered 204" in result.detail
    assert GITHUB_TOKEN not in result.model_dump_json()


async def test_the_service_runner_wins_over_the_top_level_one() -> None:
    with server(200, {"status": "ok"}) as (url, hook):
        cfg = config(
            actions={"rollback": {"webhook": {"url": url + "/top/{service}/rollback", "method": "get"}}},
            checkout={"rollback": {"params": VERSION, "webhook": {"url": url + "/checkout-own/{version}"}}},
        )
        checkout = await run(cfg, request())
        payments = await run(cfg, request(service="payments", params={}))
    calls = [(r.method, r.path) for r in hook.requests]
    assert calls == [("POST", "/checkout-own/v41"), ("GET", "/top/payments/rollback")]
    assert checkout.runner == f"webhook POST {url}/checkout-own/{{version}}"
    assert payments.runner == f"webhook GET {url}/top/{{service}}/rollback"
    assert payments.ok and 'answered 200: {"status": "ok"}' in payments.detail


async def test_a_missing_parameter_fails_clearly_and_calls_nothing() -> None:
    with server(204) as (url, hook):
        result = await run(config(checkout=dispatch_runner(url)), request(params={}))
    assert hook.requests == []
    assert not result.ok and result.ran
    assert result.detail == "parameter 'version' is missing: the request must pass params {version: ...}"
    assert result.runner.startswith("webhook POST ")


async def test_a_4xx_answer_is_a_failure_that_is_not_retried() -> None:
    with server(422, {"message": 'Unexpected inputs provided: ["version"]'}) as (url, hook):
        result = await run(config(checkout=dispatch_runner(url)), request())
    assert len(hook.requests) == 1
    assert not result.ok
    assert "answered 422" in result.detail and "Unexpected inputs provided" in result.detail


@pytest.mark.parametrize("status", [500, 503, 429, 408])
async def test_a_5xx_or_rate_limit_answer_raises_a_retryable_error(status: int) -> None:
    with server(status) as (url, _), pytest.raises(ApplicationError) as e:
        await run(config(checkout=dispatch_runner(url)), request())
    assert not e.value.non_retryable
    assert f"answered {status}" in str(e.value)
    assert GITHUB_TOKEN not in str(e.value)


async def test_an_unreachable_webhook_raises_a_retryable_error() -> None:
    cfg = config(checkout=dispatch_runner(f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(ApplicationError) as e:
        await run(cfg, request())
    assert not e.value.non_retryable and "ConnectError" in str(e.value)


@pytest.mark.integration
async def test_a_webhook_that_does_not_answer_in_time_raises_a_retryable_error() -> None:
    release = threading.Event()

    def stall(req: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        release.wait(30)
        return 204, {}, b""

    with loopback_http(stall) as url:
        try:
            with pytest.raises(ApplicationError) as e:
                await run(config(checkout=dispatch_runner(url, timeout="1s")), request())
        finally:
            release.set()
    assert not e.value.non_retryable and "timed out after 1.0s" in str(e.value)


async def test_an_unset_secret_fails_without_calling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_GITHUB_TOKEN")
    with server(204) as (url, hook):
        result = await run(config(checkout=dispatch_runner(url)), request())
    assert hook.requests == []
    assert not result.ok
    assert result.detail == (
        "services.checkout.actions.rollback.webhook.headers.Authorization: "
        "environment variable TEST_GITHUB_TOKEN is not set"
    )


async def test_a_dry_run_describes_the_call_and_makes_none() -> None:
    with server(204) as (url, hook):
        cfg = config(checkout=dispatch_runner(url))
        result = await run(cfg, request(), dry_run=True)
        missing = await run(cfg, request(params={}), dry_run=True)
    assert hook.requests == []
    assert result == ActionRun(
        ok=True,
        dry_run=True,
        runner=f"webhook POST {url}/repos/acme/checkout/actions/workflows/rollback.yml/dispatches?note={{version}}",
        detail=(
            f"would POST {url}/repos/acme/checkout/actions/workflows/rollback.yml/dispatches?note=v41 with "
            '{"ref":"main","inputs":{"version":"v41","incident":"INC-7K2Q9M","literal":"{version}"}}'
        ),
    )
    assert not missing.ok and missing.dry_run and "parameter 'version' is missing" in missing.detail


async def test_no_runner_means_a_human_does_it() -> None:
    result = await run(config(), request(action="rollback"))
    assert result == ActionRun(
        ok=True,
        ran=False,
        detail="no runner configured for rollback (services.checkout.actions or actions:); do it by hand and note it",
    )


# ---- statuspage ------------------------------------------------------------------------------------------------

CREATED = {
    "id": "p31zjtct2jer",
    "name": "checkout: service disruption",
    "status": "investigating",
    "shortlink": "http://stspg.io/p31zjtct2jer",
    "incident_updates": [{"body": "...", "status": "investigating"}],
}


def statuspage(url: str) -> dict[str, Any]:
    return {
        "customer_comms": {
            "statuspage": {
                "page_id": "abc123",
                "api_key": "env:TEST_STATUSPAGE_KEY",
                "url": url + "/v1/",
                "component_ids": ["8kbf7d35c070"],
            }
        }
    }


async def test_customer_comms_open_a_statuspage_incident() -> None:
    text = "Some checkouts are failing. We are rolling back a change."
    with server(201, CREATED) as (url, api):
        result = await run(config(actions=statuspage(url)), request(action="customer_comms", params={}, text=text))
    req, headers, body = api.only()
    assert (req.method, req.path) == ("POST", "/v1/pages/abc123/incidents")
    assert headers["authorization"] == f"OAuth {STATUSPAGE_KEY}"
    assert headers["idempotency-key"] == "incident-INC-7K2Q9M/A1"
    assert body == {
        "incident": {
            "name": "checkout: service disruption",
            "status": "investigating",
            "body": text,
            "component_ids": ["8kbf7d35c070"],
        }
    }
    assert result.ok and result.runner == "statuspage abc123"
    assert "p31zjtct2jer" in result.detail and "http://stspg.io/p31zjtct2jer" in result.detail
    assert STATUSPAGE_KEY not in result.model_dump_json()


async def test_a_title_parameter_names_the_statuspage_incident_and_no_text_is_a_failure() -> None:
    with server(201, CREATED) as (url, api):
        cfg = config(actions=statuspage(url))
        titled = await run(cfg, request(action="customer_comms", params={"title": "Checkout errors"}, text="Fixing"))
        untitled = await run(cfg, request(action="customer_comms", params={}, text=None))
    _, _, body = api.only()
    assert titled.ok and body["incident"]["name"] == "Checkout errors"
    assert not untitled.ok and "no text" in untitled.detail


async def test_statuspage_refusing_the_key_is_a_failure() -> None:
    with server(401, {"error": "Could not authenticate"}) as (url, _):
        result = await run(config(actions=statuspage(url)), request(action="customer_comms", params={}, text="x"))
    assert not result.ok and "answered 401" in result.detail and "Could not authenticate" in result.detail


# ---- command ---------------------------------------------------------------------------------------------------


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "action.py"
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path


RECORD = """
import json, os, sys
with open(os.path.join(os.path.dirname(sys.argv[0]), "ran.json"), "w") as f:
    json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(),
               "env": {k: v for k, v in os.environ.items() if k.startswith("BATON_")}}, f)
print("rolled back")
"""


def command_runner(argv: list[str], params: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    return {"rollback": {"params": VERSION if params is None else params, "command": {"argv": argv, **options}}}


async def test_a_command_gets_its_arguments_one_by_one_and_the_request_in_its_environment(tmp_path: Path) -> None:
    prog = script(tmp_path, RECORD)
    victim = tmp_path / "victim"
    victim.write_text("still here")
    params = {"note": "$(touch pwned) `touch pwned2` *", "version": "; rm -rf victim"}
    anything = {"pattern": ".*"}
    cfg = config(
        checkout=command_runner(
            [str(prog), "{service}", "--incident={incident_id}"],
            params={"version": anything, "note": anything},
            cwd=str(tmp_path),
        )
    )
    result = await run(cfg, request(params=params, text="We are rolling back."))
    ran = json.loads((tmp_path / "ran.json").read_text())
    assert ran["argv"] == [
        "checkout",
        "--incident=INC-7K2Q9M",
        "--",
        "version=; rm -rf victim",
        "note=$(touch pwned) `touch pwned2` *",
    ], "parameters follow --, as name=value, in the order the config declares them"
    assert victim.exists() and not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
    assert Path(ran["cwd"]) == tmp_path
    env = ran["env"]
    assert env["BATON_INCIDENT_ID"] == "INC-7K2Q9M"
    assert env["BATON_ACTION"] == "rollback"
    assert env["BATON_APPROVAL_ID"] == "A1"
    assert json.loads(env["BATON_PARAMS"]) == params
    assert env["BATON_TEXT"] == "We are rolling back."
    assert env["BATON_IDEMPOTENCY_KEY"] == "incident-INC-7K2Q9M/A1"
    assert result.ok and result.runner == f"command {prog}"
    assert result.detail.startswith("exit 0 after ") and "rolled back" in result.detail


async def test_a_failing_command_reports_its_exit_code_and_the_tail_of_its_output(tmp_path: Path) -> None:
    prog = script(
        tmp_path,
        "import sys\nfor i in range(30):\n    print(f'err line {i}', file=sys.stderr)\nprint('partial')\nsys.exit(3)\n",
    )
    result = await run(config(checkout=command_runner([str(prog)])), request())
    assert not result.ok and result.ran
    assert result.detail.startswith("exit 3 after ")
    assert "err line 10\n" in result.detail and "err line 29" in result.detail
    assert "err line 9\n" not in result.detail
    assert "stdout:\npartial" in result.detail


async def test_a_loud_failing_command_keeps_its_detail_bounded(tmp_path: Path) -> None:
    prog = script(tmp_path, "import sys\nfor i in range(5000):\n    print('x' * 500, i, file=sys.stderr)\nsys.exit(1)")
    result = await run(config(checkout=command_runner([str(prog)])), request())
    assert not result.ok and "4999" in result.detail
    assert len(result.detail) <= DETAIL_LIMIT + 100


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


@pytest.mark.integration
async def test_a_command_past_its_timeout_is_killed_with_everything_it_started(tmp_path: Path) -> None:
    prog = script(
        tmp_path,
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "open(sys.argv[1], 'w').write(str(child.pid))\n"
        "print('stuck waiting for the deploy', flush=True)\n"
        "time.sleep(600)\n",
    )
    pid_file = tmp_path / "child.pid"
    started = time.monotonic()
    result = await run(config(checkout=command_runner([str(prog), str(pid_file)], timeout="2s")), request())
    assert time.monotonic() - started < 30
    assert not result.ok
    assert result.detail.startswith("timed out after 2s: killed its process group")
    assert "stuck waiting for the deploy" in result.detail
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not _alive(child), "the command's child outlived the timeout"


async def test_a_command_that_does_not_exist_is_a_failure(tmp_path: Path) -> None:
    result = await run(config(checkout=command_runner([str(tmp_path / "nope.sh")])), request())
    assert not result.ok and result.detail.startswith(f"cannot run {tmp_path / 'nope.sh'}")


async def test_a_dry_run_runs_no_command(tmp_path: Path) -> None:
    prog = script(tmp_path, RECORD)
    cfg = config(checkout=command_runner([str(prog), "{service}"], timeout="1m"))
    result = await run(cfg, request(params={"version": "v41 final"}), dry_run=True)
    assert not (tmp_path / "ran.json").exists()
    assert result.ok and result.dry_run
    assert result.detail == f"would run {prog} checkout -- 'version=v41 final' (timeout 1m, no shell)"


# ---- what a request's parameters cannot do ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("runner", "message"),
    [
        ({"webhook": {"url": "https://ci.example/{version}"}}, "params: {version: {pattern:"),
        ({"command": {"argv": ["./restart.sh", "{deployment}"]}}, "after `--` as deployment=VALUE"),
        ({"command": {"argv": ["./post.sh", "{text}"]}}, "BATON_TEXT"),
        ({"params": {"version": {}}, "webhook": {"url": "https://ci.example"}}, "exactly one of `pattern"),
        ({"params": {"version": {"pattern": "v[0-9"}}, "webhook": {"url": "https://ci.example"}}, "not a regular"),
        ({"params": {"service": {"values": ["x"]}}, "webhook": {"url": "https://ci.example"}}, "never a parameter"),
        ({"command": {"argv": ["x"], "env": ["BATON_TOKEN"]}}, "baton's own"),
    ],
)
def test_parameters_are_declared_or_the_config_says_what_to_add(runner: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        config(actions={"rollback": runner})
    assert any(p.path.startswith("actions.rollback") and message in p.message for p in e.value.problems), str(e.value)


def test_numbers_in_values_are_text() -> None:
    cfg = config(actions={"rollback": {"params": {"replicas": {"values": [1, 2]}}, "command": {"argv": ["x"]}}})
    assert cfg.actions["rollback"].params["replicas"].values == ["1", "2"]


async def test_a_parameter_outside_its_pattern_or_undeclared_runs_nothing(tmp_path: Path) -> None:
    prog = script(tmp_path, RECORD)
    cfg = config(checkout=command_runner([str(prog)], params={"version": {"pattern": "^v[0-9]+$"}}))
    outside = await run(cfg, request(params={"version": "--all"}))
    undeclared = await run(cfg, request(params={"version": "v41", "kubeconfig": "/tmp/x"}))
    assert not (tmp_path / "ran.json").exists(), "nothing ran"
    assert not outside.ok and outside.detail == (
        "refused before running: parameter 'version' must match ^v[0-9]+$ (the whole value); got '--all' "
        "(services.checkout.actions.rollback.params.version)"
    )
    assert not undeclared.ok and "parameter 'kubeconfig' is not one this action takes" in undeclared.detail


ARGPARSE = """
import argparse, json, os, sys
parser = argparse.ArgumentParser()
parser.add_argument("--all", action="store_true")
parser.add_argument("--kubeconfig")
parser.add_argument("rest", nargs="*")
args = parser.parse_args()
print(json.dumps({"argv": sys.argv[1:], "all": args.all, "kubeconfig": args.kubeconfig}))
"""


async def test_a_value_like_an_option_reaches_the_command_as_no_option(tmp_path: Path) -> None:
    prog = script(tmp_path, ARGPARSE)
    params = {"target": {"values": ["--all", "checkout"]}, "config": {"pattern": ".*"}}
    cfg = config(checkout=command_runner([str(prog), "{service}"], params=params))
    result = await run(cfg, request(params={"target": "--all", "config": "--kubeconfig=/x"}))
    assert result.ok, result.detail
    printed = json.loads(result.detail.split("stdout:\n", 1)[1])
    assert printed == {
        "argv": ["checkout", "--", "target=--all", "config=--kubeconfig=/x"],
        "all": False,
        "kubeconfig": None,
    }


ENV_DUMP = """
import json, os
print(json.dumps(dict(os.environ)))
"""


async def test_a_command_gets_only_the_allowed_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_TOKEN", "baton-human-token-123")
    monkeypatch.setenv("BATON_AGENT_TRIAGE_TOKEN", "baton-agent-token-456")
    monkeypatch.setenv("DEPLOY_API_TOKEN", "deploy-token-789")
    monkeypatch.setenv("KUBECONFIG", "/etc/kube/checkout")
    monkeypatch.setenv("TZ", "Europe/Berlin")
    prog = script(tmp_path, ENV_DUMP)
    cfg = config(checkout=command_runner([str(prog)], env=["KUBECONFIG"]))
    result = await run(cfg, request())
    env = json.loads(result.detail.split("stdout:\n", 1)[1])
    request_vars = {
        "BATON_INCIDENT_ID",
        "BATON_WORKFLOW_ID",
        "BATON_SERVICE",
        "BATON_ACTION",
        "BATON_APPROVAL_ID",
        "BATON_REQUESTED_BY",
        "BATON_APPROVED_BY",
        "BATON_PARAMS",
        "BATON_TEXT",
        "BATON_IDEMPOTENCY_KEY",
    }
    allowed = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "KUBECONFIG"}
    assert set(env) - request_vars <= allowed, set(env) - request_vars - allowed
    assert {k for k in env if k.startswith("BATON_")} == request_vars
    assert env["KUBECONFIG"] == "/etc/kube/checkout" and env["TZ"] == "Europe/Berlin"
    assert "DEPLOY_API_TOKEN" not in env and "baton-human-token-123" not in result.detail


LEAKY = """
import os, sys
token = os.environ["TEST_DEPLOY_TOKEN"]
print(f"using token {token} for the deploy")
print(f"Authorization: Bearer {token}", file=sys.stderr)
sys.exit(1)
"""


async def test_a_secret_a_command_echoes_is_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "deploy-secret-0123456789"
    monkeypatch.setenv("TEST_DEPLOY_TOKEN", token)
    prog = script(tmp_path, LEAKY)
    cfg = config(
        checkout=command_runner([str(prog)], env=["TEST_DEPLOY_TOKEN"]),
        integrations={"github": {"token": "env:TEST_DEPLOY_TOKEN"}},
    )
    result = await run(cfg, request())
    assert not result.ok
    assert token not in result.model_dump_json()
    assert "using token [redacted] for the deploy" in result.detail
    assert "Authorization: Bearer [redacted]" in result.detail


async def test_a_secret_at_the_cut_of_a_long_output_leaves_no_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "deploy-secret-0123456789"
    monkeypatch.setenv("TEST_DEPLOY_TOKEN", token)
    prog = script(tmp_path, f"import os\nprint(os.environ['TEST_DEPLOY_TOKEN'] + 'y' * {DETAIL_LIMIT - 20})\n")
    cfg = config(
        checkout=command_runner([str(prog)], env=["TEST_DEPLOY_TOKEN"]),
        integrations={"github": {"token": "env:TEST_DEPLOY_TOKEN"}},
    )
    result = await run(cfg, request())
    assert result.ok and result.detail.count("y") > DETAIL_LIMIT - 100
    assert token[-8:] not in result.detail, "the cut fell inside the secret and left its end"


def echo_headers(status: int) -> Any:
    """An API that repeats the request's headers in its answer (as some error pages do)."""

    def respond(req: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps({"you_sent": req.headers}).encode()

    return respond


@pytest.mark.parametrize("status", [200, 422])
async def test_a_secret_in_a_webhook_answer_is_redacted(status: int) -> None:
    with loopback_http(echo_headers(status)) as url:
        result = await run(config(checkout=dispatch_runner(url)), request())
    assert GITHUB_TOKEN not in result.model_dump_json()
    assert "Bearer [redacted]" in result.detail


async def test_a_secret_in_a_retryable_error_is_redacted() -> None:
    with loopback_http(echo_headers(503)) as url, pytest.raises(ApplicationError) as e:
        await run(config(checkout=dispatch_runner(url)), request())
    assert not e.value.non_retryable and "answered 503" in str(e.value)
    assert GITHUB_TOKEN not in str(e.value) and "Bearer [redacted]" in str(e.value)


async def test_a_secret_in_a_statuspage_answer_is_redacted() -> None:
    with loopback_http(echo_headers(400)) as url:
        result = await run(config(actions=statuspage(url)), request(action="customer_comms", params={}, text="x"))
    assert not result.ok and STATUSPAGE_KEY not in result.model_dump_json()
    assert "OAuth [redacted]" in result.detail


@pytest.mark.parametrize(
    "url",
    [
        "http://{host}/deploy",
        "http://127.0.0.1:{port}/deploy",
        "http://127.0.0.1:80{port}/deploy",
        "http://{user}@127.0.0.1/deploy",
        "http://127.0.0.1{path}",
    ],
)
def test_a_webhook_url_with_a_placeholder_in_its_host_or_port_is_a_config_error(url: str) -> None:
    anything = {"pattern": ".*"}
    params = {"host": anything, "port": anything, "user": anything, "path": anything}
    with pytest.raises(ConfigError) as e:
        config(actions={"rollback": {"params": params, "webhook": {"url": url}}})
    assert any("host or port" in p.message for p in e.value.problems), str(e.value)


async def test_parameters_cannot_point_a_webhook_at_another_host() -> None:
    with server(204) as (url, hook), server(204) as (other, elsewhere):
        other_hostport = other.removeprefix("http://")
        runner = {
            "rollback": {
                "params": {"target": {"pattern": ".*"}},
                "webhook": {"url": url + "/deploy/{target}?to={target}"},
            }
        }
        cfg = config(checkout=runner)
        for target in (f"@{other_hostport}", f"//{other_hostport}/x", f"{other}/x", f"x#@{other_hostport}"):
            result = await run(cfg, request(params={"target": target}))
            assert result.ok, result.detail
        dots = await run(cfg, request(params={"target": ".."}))
    assert elsewhere.requests == []
    assert all(r.path.startswith("/deploy/") and "/" not in r.path.removeprefix("/deploy/") for r in hook.requests)
    assert len(hook.requests) == 4
    assert not dots.ok and "'.' or '..'" in dots.detail


async def test_a_webhook_redirect_is_not_followed() -> None:
    with server(204) as (other, elsewhere):

        def redirect(req: HttpRequest) -> tuple[int, dict[str, str], bytes]:
            return 307, {"Location": other + "/stolen"}, b""

        with loopback_http(redirect) as url:
            result = await run(config(checkout=dispatch_runner(url)), request())
    assert elsewhere.requests == []
    assert not result.ok and "answered 307: a redirect to " in result.detail and "not followed" in result.detail
