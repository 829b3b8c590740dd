"""The intake token `baton up` keeps: never readable by others, not even for a moment, and refused if it is."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import starter
from gateway.secret_file import UnsafeSecretFile, create_secret, read_secret
from gateway.up import intake_token


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, int]]:
    """Every file opened under tmp_path, with its mode right as the open returned: before any later chmod."""
    seen: list[tuple[str, int]] = []
    real_os_open, real_io_open = os.open, io.open

    def note(path: Any, fd: int) -> None:
        if str(tmp_path) in os.fspath(path):
            seen.append((os.path.basename(os.fspath(path)), stat.S_IMODE(os.fstat(fd).st_mode)))

    def os_open(path: Any, flags: int, mode: int = 0o777, **kw: Any) -> int:
        fd = real_os_open(path, flags, mode, **kw)
        note(path, fd)
        return fd

    def io_open(file: Any, *args: Any, **kw: Any) -> Any:
        f = real_io_open(file, *args, **kw)
        if not isinstance(file, int):
            note(file, f.fileno())
        return f

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.delenv("BATON_INTAKE_TOKEN", raising=False)
    return seen


def test_the_token_file_is_never_readable_by_others_even_under_a_permissive_umask(
    created: list[tuple[str, int]], tmp_path: Path
) -> None:
    with umask(0o000):
        token, from_file = intake_token(tmp_path)
    assert from_file and len(token) >= 32
    assert created, "the test sees the file being made"
    assert all(mode & 0o077 == 0 for _, mode in created), created
    assert stat.S_IMODE((tmp_path / "intake-token").stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["intake-token"], "nothing is left beside it"
    assert intake_token(tmp_path) == (token, True), "kept, not made again"


def test_the_mode_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    with umask(0o277):
        create_secret(tmp_path / "t", "s3cret")
    assert stat.S_IMODE((tmp_path / "t").stat().st_mode) == 0o600
    assert read_secret(tmp_path / "t") == "s3cret"


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    assert create_secret(tmp_path / "t", "first") == "first"
    assert create_secret(tmp_path / "t", "second") == "first", "another start got there first: its token wins"
    assert read_secret(tmp_path / "t") == "first"


@pytest.mark.parametrize(("mode", "who"), [(0o644, "other users"), (0o640, "its group"), (0o606, "other users")])
def test_a_token_file_others_can_read_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], mode: int, who: str
) -> None:
    monkeypatch.delenv("BATON_INTAKE_TOKEN", raising=False)
    path = tmp_path / "intake-token"
    path.write_text("leaked\n")
    path.chmod(mode)
    with pytest.raises(UnsafeSecretFile) as refused:
        intake_token(tmp_path)
    said = str(refused.value)
    assert who in said and f"mode {mode:04o}" in said and f"rm {path}" in said and f"chmod 600 {path}" in said
    assert stat.S_IMODE(path.stat().st_mode) == mode, "refused, not changed behind the owner's back"

    monkeypatch.setenv("BATON_DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as fire:
        starter.intake_token()
    assert "chmod 600" in str(fire.value.code)


def test_a_symbolic_link_an_empty_file_or_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("t\n")
    (tmp_path / "real").chmod(0o600)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(UnsafeSecretFile, match="symbolic link"):
        read_secret(tmp_path / "link")
    (tmp_path / "dir").mkdir(mode=0o700)
    with pytest.raises(UnsafeSecretFile, match="not a regular file"):
        read_secret(tmp_path / "dir")
    empty = tmp_path / "empty"
    empty.mkdir()
    create_secret(empty / "intake-token", "")
    with pytest.raises(UnsafeSecretFile, match="is empty"):
        intake_token(empty)


def test_the_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_INTAKE_TOKEN", "from-env")
    assert intake_token(tmp_path) == ("from-env", False)
    assert not (tmp_path / "intake-token").exists()
