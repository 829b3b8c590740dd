"""A sender that behaves like Alertmanager's webhook notifier: on a 5xx (503 above all), a connection error or a
timeout it keeps the alert and sends the same body again with backoff, until it gets a 2xx or a 4xx.

It remembers, per body, how it ended: the invariants compare that with what the incidents counted.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Outcome:
    path: str
    body: Any
    status: int | None = None
    """the final answer's status (None: gave up on connection errors at the deadline)"""
    attempts: int = 0
    answers: list[int | str] = field(default_factory=list)
    """every attempt's status code, or the connection error's class name"""
    accepted_at: float | None = None


@dataclass
class RetryingSender:
    base_url: str
    headers: dict[str, str]
    give_up_after: float = 60.0
    backoff: float = 0.2
    max_backoff: float = 1.0
    timeout: float = 10.0
    outcomes: list[Outcome] = field(default_factory=list)

    async def send(self, http: httpx.AsyncClient, path: str, body: Any) -> Outcome:
        out = Outcome(path, body)
        self.outcomes.append(out)
        deadline = time.monotonic() + self.give_up_after
        pause = self.backoff
        while True:
            out.attempts += 1
            try:
                resp = await http.post(f"{self.base_url}{path}", json=body, headers=self.headers, timeout=self.timeout)
                out.answers.append(resp.status_code)
                if resp.status_code < 500:
                    out.status = resp.status_code
                    if resp.is_success:
                        out.accepted_at = time.time()
                    return out
            except httpx.TransportError as e:
                out.answers.append(type(e).__name__)
            if time.monotonic() + pause > deadline:
                return out
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.max_backoff)

    async def storm(self, path: str, bodies: list[Any], concurrency: int = 16) -> list[Outcome]:
        """Send every body, `concurrency` at a time, each retried until it is accepted or refused."""
        sem = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as http:

            async def one(body: Any) -> Outcome:
                async with sem:
                    return await self.send(http, path, body)

            return await asyncio.gather(*(one(b) for b in bodies))

    def accepted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is not None and 200 <= o.status < 300]
