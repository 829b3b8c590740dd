"""A secret kept in a file (the intake token `baton up` generates): readable by its owner only from the moment
it exists, and refused when anyone else could have read it.

Refused, not quietly tightened: a token others could read may already be in someone else's hands, so its owner
decides (make a new one, or tighten the mode if nobody else could have read it), as ssh does with a private key.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

MODE = 0o600
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class UnsafeSecretFile(Exception):
    """The file exists but is not safe to use; the message says why and what to do."""


def read_secret(path: Path) -> str | None:
    """The secret in `path` (stripped), or None when there is no such file. Raises UnsafeSecretFile when the file
    is a symbolic link or not a regular file, is not the user's own, or its group or others may read or write it."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UnsafeSecretFile(f"{path} is a symbolic link; keep the token in a file of its own") from None
        raise
    try:
        _check(path, os.fstat(fd))
    except UnsafeSecretFile:
        os.close(fd)
        raise
    with os.fdopen(fd) as f:
        return f.read().strip()


def _check(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeSecretFile(f"{path} is not a regular file")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise UnsafeSecretFile(
            f"{path} belongs to uid {st.st_uid}, not to you (uid {os.getuid()}): whoever owns it can read or change "
            f"the token. Remove it (a new one is made on the next start) or set BATON_INTAKE_TOKEN"
        )
    loose = stat.S_IMODE(st.st_mode) & 0o077
    if loose:
        who = " and ".join(w for w, bits in (("its group", 0o070), ("other users", 0o007)) if loose & bits)
        raise UnsafeSecretFile(
            f"{path} can be read or changed by {who} (mode {stat.S_IMODE(st.st_mode):04o}); a token must be readable "
            f"by you only. If anyone else could have read it, make a new one: `rm {path}` (the next start writes a "
            f"new token; update your alert sources). Otherwise tighten it: `chmod 600 {path}`"
        )


def create_secret(path: Path, secret: str) -> str:
    """Write `secret` to `path` and return it; if `path` appeared meanwhile (another start), return its secret.

    The file has mode 0600 from its creation, whatever the umask: it is created beside `path` with O_EXCL and
    mode 0600 (a umask can only take bits away), written whole, then linked into place, so `path` never exists
    with wider permissions nor half written, and an existing file is never overwritten."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, MODE)
    try:
        try:
            os.fchmod(fd, MODE)  # a umask such as 0277 took the owner's write bit: put back 0600 exactly
            data = (secret + "\n").encode()
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            existing = read_secret(path)
            if existing is None:  # removed again in between: try once more from the start
                return create_secret(path, secret)
            return existing
    finally:
        os.unlink(tmp)
    return secret
