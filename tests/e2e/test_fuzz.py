"""The fuzz suite: the intake as a real process with a worker behind it, fed what a hostile or broken source sends.

Two halves: schemathesis generating requests from the OpenAPI the intake serves, and a corpus of mutated real
payloads (tests/helpers/corpus.py). Both bounded to a few minutes on 2 cores. What must hold: no 5xx (Temporal is
up, so not even 503), every error in the documented `{"error", "message"}` shape, nothing stuck afterwards, one
incident per distinct accepted key, `/healthz` answering throughout, and the intake's memory flat.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers.corpus import Mutation, corpus, expected_status
from tests.helpers.invariants import list_incidents, stuck
from tests.helpers.stack import AUTH, Stack, stack
from tests.helpers.wait import until

REQUEST_TIMEOUT = 15.0
HEALTH_TIMEOUT = 2.0
RSS_GROWTH_KIB = 64 * 1024
"""How much the intake may grow over the corpus (it holds no state: what it takes goes to Temporal)."""
HUGE_REPEATS = 10
ANSWER_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def error_shape(status: int, body: Any) -> str | None:
    """None if an error answer has the documented shape, else what is wrong with it."""
    if status < 400:
        return None
    if not isinstance(body, dict):
        return f"{status} answered {body!r:.200} (not a JSON object)"
    if not isinstance(body.get("error"), str) or not isinstance(body.get("message"), str):
        return f"{status} answered {body!r:.200} (not {{'error': ..., 'message': ...}})"
    return None


class HealthProbe:
    """Asks /healthz twice a second while the fuzzing runs; every answer that is not a quick 200 is kept."""

    def __init__(self, url: str):
        self.url = url
        self.failures: list[str] = []
        self.probes = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with httpx.AsyncClient() as http:
            while True:
                started = time.monotonic()
                try:
                    resp = await http.get(f"{self.url}/healthz", timeout=HEALTH_TIMEOUT)
                    if resp.status_code != 200:
                        self.failures.append(f"/healthz answered {resp.status_code}")
                except httpx.HTTPError as e:
                    self.failures.append(f"/healthz: {type(e).__name__} after {time.monotonic() - started:.1f}s")
                self.probes += 1
                await asyncio.sleep(0.5)

    def __enter__(self) -> HealthProbe:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def post(http: httpx.AsyncClient, s: Stack, m: Mutation, problems: list[str]) -> tuple[int | str, Any, float]:
    """POST one mutation. A keep-alive connection the intake closed after answering on it is a problem of its
    own; the mutation is then sent again on a new connection, to still learn its answer."""
    status, body, took = await _post(http, s, m)
    if status in ("ReadError", "RemoteProtocolError") and took < 1.0:
        problems.append(f"{m.name}: the intake closed the keep-alive connection it had answered on ({status})")
        async with httpx.AsyncClient() as fresh:
            status, body, took = await _post(fresh, s, m)
    return status, body, took


async def _post(http: httpx.AsyncClient, s: Stack, m: Mutation) -> tuple[int | str, Any, float]:
    headers = {"Content-Type": "application/json", **m.headers, **(AUTH if m.auth else {})}
    started = time.monotonic()
    try:
        resp = await http.post(f"{s.intake.url}{m.path}", content=m.body, headers=headers, timeout=REQUEST_TIMEOUT)
    except httpx.HTTPError as e:
        return type(e).__name__, None, time.monotonic() - started
    try:
        body: Any = resp.json()
    except ValueError:
        body = resp.text[:200]
    return resp.status_code, body, time.monotonic() - started


async def test_mutated_real_payloads(tmp_path: Path) -> None:
    async with stack(tmp_path) as s, httpx.AsyncClient() as http:
        mutations = corpus()
        problems: list[str] = []
        accepted: set[tuple[str, ...]] = set()
        # warm up with the real payloads, so what the process loads on first use is not counted as growth
        for m in mutations[:4]:
            await post(http, s, m, problems)
        rss_before = s.intake.rss_kib()
        with HealthProbe(s.intake.url) as health:
            huge = next(m for m in mutations if m.name.startswith("900 kB"))
            rss_mid = 0
            for m in [*mutations[:-1], *[huge] * HUGE_REPEATS, mutations[-1]]:
                if m is mutations[-1]:
                    rss_mid = s.intake.rss_kib()  # before the deep one, to tell which grew it
                status, body, took = await post(http, s, m, problems)
                if not isinstance(status, int):
                    problems.append(f"{m.name}: no answer ({status} after {took:.1f}s)")
                    continue
                if status >= 500:
                    problems.append(f"{m.name}: {status} {body!r:.200} (Temporal is up: no 5xx)")
                elif not expected_status(m, status):
                    problems.append(f"{m.name}: answered {status} {body!r:.160}, expected {m.expect}")
                if (shape := error_shape(status, body)) is not None:
                    problems.append(f"{m.name}: {shape}")
                if 200 <= status < 300 and m.identity is not None:
                    accepted.add(m.identity)
            rss_after = s.intake.rss_kib()
            probes = health.probes
        problems += [f"while fuzzing: {f}" for f in health.failures[:10]]
        if probes == 0:
            problems.append("/healthz was never answered while fuzzing")
        if rss_after - rss_before > RSS_GROWTH_KIB:
            problems.append(
                f"the intake grew from {rss_before // 1024} MiB to {rss_after // 1024} MiB "
                f"({rss_mid // 1024} MiB before the deeply nested body)"
            )

        async def incidents() -> int:
            return len(await list_incidents(s.incidents))

        try:
            count = await until(incidents, lambda n: n >= len(accepted), timeout=30)
        except AssertionError:
            count = await incidents()
        if count != len(accepted):
            problems.append(f"{len(accepted)} distinct keys accepted, {count} incidents: {sorted(accepted)!r:.600}")
        problems += await stuck(s.client)
        print(
            f"FIGURES fuzz corpus: rss {rss_before // 1024} -> {rss_mid // 1024} (before the deep body) -> "
            f"{rss_after // 1024} MiB, {probes} health probes, {len(health.failures)} failed"
        )
        assert not problems, f"{len(problems)} problem(s):\n  " + "\n  ".join(problems) + f"\n{s.logs()[-3000:]}"


# ---- schemathesis over the OpenAPI ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with stack(tmp_path_factory.mktemp("fuzz")) as s:
        yield s


MAX_EXAMPLES = 25
"""Per operation and mode (valid, then invalid requests): nine operations, no shrinking, about a minute."""


def check_case(case: Any) -> None:
    """One generated request with the intake's token: no 5xx, the error shape, and the answer as documented."""
    response = case.call(headers=AUTH, timeout=REQUEST_TIMEOUT)
    assert response.status_code < 500, f"{response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = response.text[:200]
        shape = error_shape(response.status_code, body)
        assert shape is None, shape
    # what the OpenAPI promises about the answer: its status codes, content types and schemas. (Not schemathesis's
    # "schema-valid data is accepted": an OpenAPI cannot say "dedup_key is required when resolving".)
    case.validate_response(response, checks=ANSWER_CHECKS)


def describe(e: BaseException) -> str:
    """The failure and, for a group, each failure in it (schemathesis says what and how to reproduce it)."""
    parts = [e] if not isinstance(e, BaseExceptionGroup) else list(e.exceptions)
    return " | ".join(f"{type(p).__name__}: {' '.join(str(p).split())[:600]}" for p in parts)


def test_openapi_operations(fuzz_stack: Stack) -> None:
    """Every operation the served OpenAPI lists, with valid and invalid requests generated from it. Each
    operation is fuzzed on its own, so one failing does not hide the others."""
    schema = schemathesis.openapi.from_url(f"{fuzz_stack.intake.url}/openapi.json")
    failures: list[str] = []
    operations, invalid = [], []
    for result in schema.get_all_operations():
        if isinstance(result, Ok):
            operations.append(result.ok())
        else:
            invalid.append(str(result.err()))
    assert operations and not invalid, f"the served OpenAPI: {len(operations)} operations; invalid: {invalid}"
    for operation, mode in [(op, mode) for op in operations for mode in GenerationMode]:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded, and the first failure says enough
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def fuzz(case: Any) -> None:
            check_case(case)

        try:
            fuzz()
        except Unsatisfiable:
            continue  # no invalid request exists for an operation without parameters or body
        except (Exception, BaseExceptionGroup) as e:  # schemathesis reports a FailureGroup
            failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {describe(e)}")
    assert not failures, f"{len(failures)} operation(s) failing:\n" + "\n".join(failures)


async def test_nothing_stuck_after_the_openapi_fuzzing(fuzz_stack: Stack) -> None:
    """After schemathesis: no workflow task failing, the intake still healthy."""
    problems = await stuck(fuzz_stack.client)
    async with httpx.AsyncClient() as http:
        health = await http.get(f"{fuzz_stack.intake.url}/healthz", timeout=HEALTH_TIMEOUT)
    assert health.status_code == 200
    assert not problems, "\n".join(problems)
