"""The `run_action` activity: carry out an approved action with the runner the config names for it.

The runner comes from `services.<service>.actions.<action>`, else the top-level `actions.<action>`; with neither,
nothing runs and a human does it by hand. Outcomes:

- success: `ActionRun(ok=True, ...)` with what the other side answered;
- a failure that another attempt cannot fix (a missing parameter or secret, HTTP 4xx, a command exiting non-zero
  or running out of time): `ActionRun(ok=False, ...)`, returned, so the workflow records it;
- a failure that another attempt may fix (HTTP 5xx, 408, 429, a timeout, a refused connection): a retryable
  `ApplicationError`, so Temporal retries with the workflow's retry policy; after the last attempt the workflow
  records the error.

Every attempt at one action carries the same idempotency key (`<incident_id>/<A1 or R1>`, from the request). With
`dry_run=True` (drills) the request is built, placeholders and all, and described, but nothing is called.
A command heartbeats while it runs, so the workflow may set a heartbeat timeout; its start-to-close timeout
must be longer than the runner's `timeout`.

What the request's parameters can do is bounded here too, whatever the workflow checked: a parameter the runner does
not declare, or a value outside its `pattern`/`values`, fails before anything runs; a webhook goes only to the host
its URL names and follows no redirect; a command gets parameters after `--` as `name=value` and an environment of
`COMMAND_ENV` plus its own `env:`. Everything returned or raised passes through the config's secrets' `Redactor`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.http_rules import excerpt, retryable_status, unusable_url
from activities.redaction import Redactor
from incident.actions import (
    CommandRunner,
    HeaderSecret,
    ParamRule,
    Renderer,
    StatuspageRunner,
    TemplateError,
    WebhookRunner,
    param_problems,
    placeholder_values,
)
from incident.approvals import ActionRun
from incident.config import Config, Secret
from incident.durations import format_duration
from workflows.messages import RunActionRequest

log = structlog.get_logger("baton.actions")

DETAIL_LIMIT = 2048
"""Bytes of a command's output (or an HTTP answer) kept in `ActionRun.detail`."""
TAIL_LINES = 20
HEARTBEAT_EVERY_S = 10.0
KILL_GRACE_S = 2.0
"""After SIGTERM to a timed-out command's process group, how long before SIGKILL."""
_KEEP_OUTPUT = 64 * 1024
COMMAND_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
"""What a command gets of the worker's environment without asking (its `env:` names more); never a token."""
Redact = Callable[[str], str]


class _Failed(Exception):
    """A failure another attempt cannot fix: becomes `ActionRun(ok=False)`."""


class ActionActivities:
    """Holds the worker's config and one HTTP client. `dry_run=True` (drills) never calls a runner."""

    def __init__(self, config: Config, http: httpx.AsyncClient, dry_run: bool = False):
        self.config = config
        self.http = http
        self.dry_run = dry_run

    @activity.defn(name="run_action")
    async def run_action(self, req: RunActionRequest) -> ActionRun:
        runner, where = self.config.runner_for(req.service, req.action)
        if runner is None:
            return ActionRun(
                ok=True,
                ran=False,
                detail=(
                    f"no runner configured for {req.action} (services.{req.service}.actions or actions:); "
                    "do it by hand and note it"
                ),
            )
        redact = Redactor.of(self.config, runner.command.env if runner.command is not None else ())
        described = redact(runner.describe())
        bound = log.bind(
            incident=req.incident_id, approval=req.approval_id, action=req.action, runner=described, config=where
        )
        try:
            if problems := param_problems(req.params, runner.declared(where)):
                refused = "; ".join(f"{p.message} ({p.rule})" for p in problems)
                raise _Failed(f"refused before running: {refused}")
            if runner.webhook is not None:
                result = await self._webhook(runner.webhook, req, where, redact)
            elif runner.command is not None:
                result = await self._command(runner.command, runner.param_rules(), req, redact)
            else:
                assert runner.statuspage is not None
                result = await self._statuspage(runner.statuspage, req, where, redact)
        except (TemplateError, _Failed) as e:
            result = ActionRun(ok=False, detail=str(e))
        except ApplicationError as e:
            message = redact(e.message)
            bound.warning("action attempt failed, will be retried", error=message, dry_run=self.dry_run)
            raise ApplicationError(message, type=e.type, non_retryable=e.non_retryable) from None
        except Exception as e:  # whatever it says may hold a secret: it leaves redacted, and is retried as before
            message = redact(f"{type(e).__name__}: {e}")
            bound.error("action runner failed unexpectedly", error=message, dry_run=self.dry_run)
            raise ApplicationError(message, type="ActionRunnerError", non_retryable=False) from None
        result = result.model_copy(
            update={"runner": described, "dry_run": self.dry_run, "detail": redact(result.detail)}
        )
        bound.info("action ran" if result.ok else "action failed", ok=result.ok, dry_run=self.dry_run)
        return result

    # ---- webhook -----------------------------------------------------------------------------------------------

    async def _webhook(self, hook: WebhookRunner, req: RunActionRequest, where: str, redact: Redact) -> ActionRun:
        r = Renderer(_values(req))
        url = r.text(hook.url, url=True)
        body = r.json(hook.body)
        r.check()
        if _origin(url) != hook.origin():
            raise _Failed(f"{url} is not on {hook.origin()[1]}, the host {where}.webhook.url names: nothing was sent")
        shown = f"{hook.method} {url}"
        if self.dry_run:
            return ActionRun(ok=True, detail=f"would {shown}" + (f" with {_compact(body)}" if body is not None else ""))
        headers = _base_headers(req)
        for name, value in hook.headers.items():
            if isinstance(value, HeaderSecret):
                headers[name] = value.prefix + _reveal(value.secret, f"{where}.webhook.headers.{name}")
            else:
                headers[name] = value
        resp = await self._request(hook.method, url, headers, body, hook.timeout.total_seconds(), redact)
        return ActionRun(ok=True, detail=f"{shown} answered {resp.status_code}{_excerpt(redact(resp.text))}")

    # ---- statuspage --------------------------------------------------------------------------------------------

    async def _statuspage(self, page: StatuspageRunner, req: RunActionRequest, where: str, redact: Redact) -> ActionRun:
        if not req.text:
            raise _Failed("nothing to post: the request has no text (the message for customers)")
        url = page.incidents_url()
        body = page.incident(req.service, req.text, req.params.get("title"))
        if self.dry_run:
            return ActionRun(ok=True, detail=f"would POST {url} with {_compact(body)}")
        headers = _base_headers(req)
        headers["Authorization"] = "OAuth " + _reveal(page.api_key, f"{where}.statuspage.api_key")
        resp = await self._request("POST", url, headers, body, page.timeout.total_seconds(), redact)
        try:
            created = resp.json()
        except ValueError:
            created = {}
        if not isinstance(created, dict):
            created = {}
        what = f"statuspage incident {created.get('id') or '(no id in the answer)'}"
        if created.get("shortlink"):
            what += f" {created['shortlink']}"
        return ActionRun(ok=True, detail=f"{what} created ({page.status}); POST {url} answered {resp.status_code}")

    async def _request(
        self, method: str, url: str, headers: dict[str, str], body: Any, timeout_s: float, redact: Redact
    ) -> httpx.Response:
        """2xx returns; 4xx (and a redirect: never followed) raises _Failed; 5xx, 408, 429 and network trouble
        raise a retryable ApplicationError. The answer in any message is redacted."""
        shown = f"{method} {url}"
        try:
            resp = await self.http.request(
                method, url, headers=headers, json=body, timeout=timeout_s, follow_redirects=False
            )
        except (httpx.InvalidURL, httpx.HTTPError) as e:
            if unusable_url(e):
                raise _Failed(f"{shown}: not a usable URL ({e})") from None
            if isinstance(e, httpx.TimeoutException):
                raise _retryable(f"{shown} timed out after {_seconds(timeout_s)}") from None
            raise _retryable(f"{shown} failed: {type(e).__name__}") from None
        if 200 <= resp.status_code < 300:
            return resp
        if resp.is_redirect:
            to = excerpt(redact(resp.headers.get("location", "")), 200)
            raise _Failed(f"{shown} answered {resp.status_code}: a redirect to {to or '(no Location)'}, not followed")
        answer = f"{shown} answered {resp.status_code}{_excerpt(redact(resp.text))}"
        if retryable_status(resp.status_code):
            raise _retryable(answer)
        raise _Failed(answer)

    # ---- command -----------------------------------------------------------------------------------------------

    async def _command(
        self, cmd: CommandRunner, rules: Mapping[str, ParamRule], req: RunActionRequest, redact: Redact
    ) -> ActionRun:
        argv = command_argv(cmd, rules, req)
        timeout = format_duration(cmd.timeout)
        if self.dry_run:
            where = f" in {cmd.cwd}" if cmd.cwd else ""
            return ActionRun(ok=True, detail=f"would run {shlex.join(argv)}{where} (timeout {timeout}, no shell)")
        env = command_env(cmd, req)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cmd.cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group: a timeout kills it and everything it started
            )
        except OSError as e:
            raise _Failed(f"cannot run {argv[0]}: {e.strerror or e}") from None
        assert proc.stdout is not None and proc.stderr is not None
        out, err = bytearray(), bytearray()
        readers = [asyncio.ensure_future(_drain(proc.stdout, out)), asyncio.ensure_future(_drain(proc.stderr, err))]
        waiter = asyncio.ensure_future(proc.wait())
        started = time.monotonic()
        timed_out = False
        try:
            deadline = started + cmd.timeout.total_seconds()
            while not waiter.done():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    await _kill_group(proc, waiter)
                    break
                await asyncio.wait({waiter}, timeout=min(remaining, HEARTBEAT_EVERY_S))
                if not waiter.done() and activity.in_activity():
                    activity.heartbeat(f"{argv[0]} running for {_seconds(time.monotonic() - started)}")
        except asyncio.CancelledError:
            await asyncio.shield(_kill_group(proc, waiter))
            raise
        finally:
            # a background child that kept the pipes open must not hold the activity
            _, pending = await asyncio.wait(readers, timeout=KILL_GRACE_S)
            for task in pending:
                task.cancel()
        took = _seconds(time.monotonic() - started)
        code = proc.returncode
        if timed_out:
            head = f"timed out after {timeout}: killed its process group"
        elif code == 0:
            head = f"exit 0 after {took}"
        elif code is not None and code < 0:
            head = f"killed by {signal.Signals(-code).name} after {took}"
        else:
            head = f"exit {code} after {took}"
        lines = 5 if code == 0 and not timed_out else TAIL_LINES
        tail = _output_tail(bytes(err), bytes(out), lines, redact)
        return ActionRun(ok=code == 0 and not timed_out, detail=head + (f"\n{tail}" if tail else ""))


def command_argv(cmd: CommandRunner, rules: Mapping[str, ParamRule], req: RunActionRequest) -> list[str]:
    """`argv` with its placeholders filled, then, when the action declares parameters, `--` and `name=value` for
    each one the request passes (in the order they are declared): a value can never be read as an option."""
    r = Renderer(_values(req))
    argv = [r.text(item) for item in cmd.argv]
    r.check()
    if rules:
        argv += ["--", *(f"{name}={req.params[name]}" for name in rules if name in req.params)]
    return argv


def command_env(cmd: CommandRunner, req: RunActionRequest) -> dict[str, str]:
    """COMMAND_ENV and the command's own `env:` from the worker's environment, then the request as BATON_*."""
    passed = {name: os.environ[name] for name in (*COMMAND_ENV, *cmd.env) if name in os.environ}
    return passed | {
        "BATON_INCIDENT_ID": req.incident_id,
        "BATON_WORKFLOW_ID": req.workflow_id,
        "BATON_SERVICE": req.service,
        "BATON_ACTION": req.action,
        "BATON_APPROVAL_ID": req.approval_id,
        "BATON_REQUESTED_BY": req.requested_by,
        "BATON_APPROVED_BY": req.approved_by or "",
        "BATON_PARAMS": json.dumps(req.params, sort_keys=True),
        "BATON_TEXT": req.text or "",
        "BATON_IDEMPOTENCY_KEY": req.idempotency_key(),
    }


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _values(req: RunActionRequest) -> dict[str, str | None]:
    return placeholder_values(
        incident_id=req.incident_id,
        workflow_id=req.workflow_id,
        service=req.service,
        action=req.action,
        approval_id=req.approval_id,
        requested_by=req.requested_by,
        approved_by=req.approved_by,
        text=req.text,
        params=req.params,
    )


def _base_headers(req: RunActionRequest) -> dict[str, str]:
    return {"User-Agent": "baton", "Idempotency-Key": req.idempotency_key()}


def _reveal(secret: Secret, where: str) -> str:
    value = secret.reveal()
    if not value:
        var = secret.env_var
        raise _Failed(f"{where}: environment variable {var} is not set" if var else f"{where}: the secret is empty")
    return value


def _retryable(message: str) -> ApplicationError:
    return ApplicationError(message, type="ActionRunnerUnavailable", non_retryable=False)


def _compact(value: Any, limit: int = 1000) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _excerpt(text: str) -> str:
    """`: <the answer on one line>`, bounded, or nothing for an empty answer."""
    flat = excerpt(text)
    return f": {flat}" if flat else ""


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds) // 60}m{int(seconds) % 60:02d}s"


async def _drain(stream: asyncio.StreamReader, into: bytearray) -> None:
    """Read a pipe to its end, keeping only the last _KEEP_OUTPUT bytes."""
    while chunk := await stream.read(8192):
        into += chunk
        if len(into) > _KEEP_OUTPUT:
            del into[: len(into) - _KEEP_OUTPUT]


async def _kill_group(proc: asyncio.subprocess.Process, waiter: asyncio.Future[int]) -> None:
    """SIGTERM the command's process group, SIGKILL it after a grace period, and reap the command."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        if sig == signal.SIGTERM:
            await asyncio.wait({waiter}, timeout=KILL_GRACE_S)
    # whatever the group leader did with SIGTERM, the rest of its group got SIGKILL too
    await waiter


def _output_tail(stderr: bytes, stdout: bytes, lines: int, redact: Redact) -> str:
    """The last `lines` lines of stderr and of stdout, labelled, at most DETAIL_LIMIT characters in all; redacted
    before it is cut, so no piece of a secret is left at the cut."""
    parts = []
    for label, raw in (("stderr", stderr), ("stdout", stdout)):
        text = redact(raw.decode("utf-8", "replace")).rstrip()
        if text:
            parts.append(f"{label}:\n" + "\n".join(text.splitlines()[-lines:]))
    tail = "\n".join(parts)
    return tail if len(tail) <= DETAIL_LIMIT else "…" + tail[-(DETAIL_LIMIT - 1) :]
