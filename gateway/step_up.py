"""Step-up: a person shows they are present, not only that someone holds their token, with a one-time code from
their authenticator app (TOTP, RFC 6238: 6 digits, a new one every 30 s, from the base32 secret in
`people.NAME.totp`). The gateway checks the code here and attests `totp` with the code's time step; the workflow
decides which actions need it (`boundaries.step_up`) and takes a (person, step) once per run as well.

A code counts once: a (person, step) accepted here is refused after, for as long as the code could still be
accepted (past that window the code is refused as expired anyway). This process refuses one it saw itself at
once; `claim_everywhere`, asked before the request is sent, refuses one that any other gateway took (the shared
memo, `workflows.memo`), so running several gateways does not let a code count once per gateway.
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pyotp

from gateway.memo import SharedMemo
from incident.config import Config

STEP_SECONDS = 30
DIGITS = 6
DRIFT = 1
"""Steps either side of now a code is still accepted from: a phone's clock a little off, a code typed as it turns."""
_CODE = re.compile(r"^[0-9]{6}$")


class StepUpRefused(Exception):
    """The code does not show the person is present; the message says why, in plain words. `usage` when what was
    given cannot be a code, or nothing is set up to check one (a caller's mistake, not a refusal)."""

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


def authenticator(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)


class StepUp:
    def __init__(self, config: Config, clock: Callable[[], float] = time.time, shared: SharedMemo | None = None):
        self.config = config
        self.clock = clock
        self.shared = shared
        self._used: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    def check(self, person: str, code: str) -> int:
        """The time step of `person`'s code when it is right, now, and not used before; else StepUpRefused."""
        totp = self._authenticator(person)
        code = code.replace(" ", "")
        if not _CODE.match(code):
            raise StepUpRefused("that is not a 6-digit code: type the code your authenticator app shows", usage=True)
        now = int(self.clock()) // STEP_SECONDS
        matched = None
        for step in range(now - DRIFT, now + DRIFT + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):  # every candidate compared, in constant time
                matched = step
        if matched is None:
            raise StepUpRefused(f"wrong or expired code for {person}: type the code your authenticator app shows now")
        with self._lock:
            self._used = {(p, s) for p, s in self._used if s >= now - DRIFT}  # older ones are expired anyway
            if (person, matched) in self._used:
                raise StepUpRefused("that code was already used: wait for the next one")
            self._used.add((person, matched))
        return matched

    async def claim_everywhere(self, person: str, step: int) -> None:
        """Take `person`'s code of time `step` for every gateway; StepUpRefused when another one took it already.
        Raises `gateway.client.Unavailable` when that cannot be told (nothing is sent then)."""
        if self.shared is None:
            return
        expires = datetime.fromtimestamp((step + DRIFT + 1) * STEP_SECONDS, UTC)
        if not await self.shared.first(f"{person}:{step}", expires):
            raise StepUpRefused("that code was already used: wait for the next one")

    def _authenticator(self, person: str) -> pyotp.TOTP:
        found = self.config.people.get(person)
        if found is None or found.totp is None:
            raise StepUpRefused(
                f"no one-time code is set up for {person}: `baton people enrol {person}`, then set "
                f"people.{person}.totp in the config",
                usage=True,
            )
        secret = found.totp.reveal()
        if not secret:
            raise StepUpRefused(
                f"people.{person}.totp: environment variable {found.totp.env_var} is not set", usage=True
            )
        try:
            totp = authenticator(secret)
            totp.generate_otp(0)  # a secret that is not base32 fails here, not on the first code
        except (ValueError, TypeError):
            raise StepUpRefused(
                f"people.{person}.totp is not a base32 secret (`baton people enrol`)", usage=True
            ) from None
        return totp
