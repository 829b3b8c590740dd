"""One rule for every HTTP caller in activities/: which failures are worth another attempt."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from activities.http_rules import excerpt, retry_after, retryable_exception, retryable_status

REQUEST = httpx.Request("POST", "https://hooks.example/page")


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
def test_timeouts_rate_limits_and_server_errors_are_worth_another_attempt(status: int) -> None:
    assert retryable_status(status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 410, 413, 422])
def test_other_client_errors_are_not(status: int) -> None:
    assert not retryable_status(status)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectTimeout("slow", request=REQUEST),
        httpx.ReadTimeout("slow", request=REQUEST),
        httpx.ConnectError("refused", request=REQUEST),
        httpx.ReadError("reset", request=REQUEST),
        httpx.RemoteProtocolError("dropped", request=REQUEST),
    ],
)
def test_timeouts_and_connection_errors_are_worth_another_attempt(exc: Exception) -> None:
    assert retryable_exception(exc)


@pytest.mark.parametrize(
    "exc", [httpx.UnsupportedProtocol("ftp://", request=REQUEST), httpx.InvalidURL("bad"), ValueError("not http")]
)
def test_an_unusable_url_or_a_bug_is_not(exc: Exception) -> None:
    assert not retryable_exception(exc)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after({"retry-after": "30"}) == 30.0
    assert retry_after(httpx.Headers({"Retry-After": "Thu, 01 Jan 2026 12:01:00 GMT"}), now=now) == 60.0
    assert retry_after({"retry-after": "Thu, 01 Jan 2026 11:00:00 GMT"}, now=now) == 0.0
    assert retry_after({}) is None and retry_after({"retry-after": "soon"}) is None


def test_an_answer_is_kept_on_one_bounded_line() -> None:
    assert excerpt("  not\n  found \t") == "not found"
    long = excerpt("x" * 1000)
    assert len(long) == 300 and long.endswith("…")
    assert excerpt("y" * 50, limit=20) == "y" * 19 + "…"
