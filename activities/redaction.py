"""Secrets out of everything an activity records: a command's output, an HTTP answer, an error message.

What an action runner returns goes on the timeline, which agents read; a script that echoes its token, or an API
that repeats the `Authorization` header in an error, must not hand the secret over. `Redactor` replaces every value
of the config's secrets (each `env:VAR`, read when the action runs) with `[redacted]`; every runner passes what it
records through it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from incident.config import Config
from incident.fields import secrets_in

REDACTED = "[redacted]"
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|KEY|CREDENTIAL|AUTH", re.IGNORECASE)
"""A variable passed to a command (its `env:`) with such a name is scrubbed like a configured secret."""


class Redactor:
    """Replaces each of `values` (longest first, so one containing another goes whole) with `[redacted]`."""

    def __init__(self, values: Iterable[str]):
        self.values = sorted({v for v in values if v}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in self.values)) if self.values else None

    @classmethod
    def of(cls, config: Config, env_names: Iterable[str] = ()) -> Redactor:
        """For the config's secrets as they are now, and the secret-looking variables of `env_names`."""
        values = [s.reveal() or "" for s in secrets_in(config)]
        values += [os.environ.get(name, "") for name in env_names if SECRET_NAME.search(name)]
        return cls(values)

    def __call__(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern is not None and text else text
