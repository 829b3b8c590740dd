"""What every context provider shares: one error for "could not answer, and why", one guarded GET, one deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import TypeVar

import httpx

T = TypeVar("T")


class ProviderError(Exception):
    """A provider could not answer usefully; the message says why, for a human reading the page."""


async def get(
    http: httpx.AsyncClient,
    url: str,
    *,
    what: str,
    base: str,
    timeout: float,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """GET `url`; a timeout or an unreachable `what` (at `base`) is a ProviderError that says so."""
    try:
        return await http.get(url, params=params, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        raise ProviderError(f"no answer within {timeout:g}s") from None
    except httpx.HTTPError as e:
        raise ProviderError(f"cannot reach {what} at {base}: {e or type(e).__name__}") from None


async def within(timeout: float, work: Awaitable[T]) -> T:
    """`work` within `timeout`. Every failure becomes a ProviderError: a provider never raises past its caller, so
    the page goes out without it (cancellation still goes through)."""
    try:
        async with asyncio.timeout(timeout):
            return await work
    except TimeoutError:
        raise ProviderError(f"no answer within {timeout:g}s") from None
    except ProviderError:
        raise
    except Exception as e:
        raise ProviderError(f"unexpected {type(e).__name__}: {e}") from None
