"""Step-up: a person shows they are present, not only that someone holds their token, with a one-time code from
their authenticator app (TOTP, RFC 6238: 6 digits, a new one every 30 s, from the base32 secret in
`people.NAME.totp`). The gateway checks the code here and attests `totp` with the code's time step; the workflow
decides which actions need it (`boundaries.step_up`) and takes a (person, step) once per run as well.

A code counts once: a (person, step) accepted here is refused after, for as long as the code could still be
accepted (this process's memory is enough: past that window the code is refused as expired anyway).
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections.abc import Callable

import pyotp

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
    def __init__(self, config: Config, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
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
