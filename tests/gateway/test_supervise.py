"""The restart policy of `baton up`: backoff, its reset after a stable run, and crash-loop detection (no processes),
then the loop itself over tiny real processes."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from gateway.supervise import ChildSpec, CrashRecord, RestartPolicy, StopRequest, Supervisor, describe_exit


def crash_instantly(record: CrashRecord, times: int, start: float = 0.0) -> list[float | None]:
    """A child that dies the moment it starts, restarted after each delay the policy gives."""
    now, delays = start, []
    for _ in range(times):
        delay = record.crashed(started_at=now, at=now)
        delays.append(delay)
        now += delay or 0
    return delays


def test_backoff_doubles_from_one_second_up_to_thirty() -> None:
    record = CrashRecord(RestartPolicy(max_crashes=100))
    assert crash_instantly(record, 8) == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_child_that_stayed_up_a_minute_restarts_after_one_second_again() -> None:
    record = CrashRecord()
    assert crash_instantly(record, 3) == [1, 2, 4]
    # restarted at t=7, up for a minute, then crashes: a fresh start, not the fourth crash of a streak
    assert record.crashed(started_at=7, at=67) == 1
    assert record.crashed(started_at=68, at=78) == 2


def test_more_than_five_crashes_within_two_minutes_is_a_crash_loop() -> None:
    record = CrashRecord()
    delays = crash_instantly(record, 6)
    assert delays[:5] == [1, 2, 4, 8, 16]
    assert delays[5] is None, "the sixth crash within 31 s must stop everything"


def test_crashes_spread_over_more_than_two_minutes_never_make_a_loop() -> None:
    record = CrashRecord()
    for i in range(20):
        at = i * 25.0  # one crash every 25 s: at most 5 in any two minutes
        assert record.crashed(started_at=at - 20, at=at) is not None


def test_a_window_of_crashes_counts_only_the_last_two_minutes() -> None:
    record = CrashRecord()
    for at in (0.0, 1.0, 2.0, 3.0, 4.0):
        assert record.crashed(started_at=at, at=at) is not None
    assert record.crashed(started_at=124.5, at=125.0) is not None, "the crashes at 0-4 s are out of the window"
    assert len(record.recent) == 1


def test_an_exit_says_its_code_or_its_signal() -> None:
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(0) == "exited with code 0"
    assert describe_exit(-signal.SIGKILL) == "was killed by SIGKILL"


# ---- the loop, over real processes that live milliseconds ------------------------------------------------------

FAST = RestartPolicy(first_delay=0.05, max_delay=0.2, stable_after=60, max_crashes=5, window=120)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.mark.integration
def test_a_child_that_keeps_crashing_stops_everything_with_exit_1_and_says_so() -> None:
    said: list[str] = []
    steady = ChildSpec("steady", python("import time; time.sleep(60)"), {})
    broken = ChildSpec("broken", python("raise SystemExit(3)"), {})
    sup = Supervisor([steady, broken], FAST, poll=0.01, say=said.append)
    sup.start("steady")
    sup.start("broken")
    try:
        assert sup.supervise(StopRequest()) == 1
    finally:
        sup.stop_all()
    restarts = [s for s in said if s.startswith("broken restarted")]
    assert len(restarts) == 5, said
    assert "exited with code 3" in said[-1] and "crash loop" in said[-1], said
    assert not any(s.startswith("steady") for s in said), "the healthy child was never touched"


CHILD = """
import signal, sys, time
from pathlib import Path
out, name = Path(sys.argv[1]), sys.argv[2]
def bye(*_):
    with (out / "stopped").open("a") as f:
        f.write(name + "\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
(out / name).touch()
time.sleep(60)
"""


@pytest.mark.integration
def test_children_stop_last_started_first(tmp_path: Path) -> None:
    names = ("temporal", "worker", "intake")
    sup = Supervisor([ChildSpec(n, [*python(CHILD), str(tmp_path), n], {}) for n in names], FAST, say=print)
    for name in names:
        sup.start(name)
    deadline = time.monotonic() + 15
    while not all((tmp_path / n).exists() for n in names):
        assert time.monotonic() < deadline, "the children did not start"
        time.sleep(0.02)
    sup.stop_all()
    assert (tmp_path / "stopped").read_text().split() == ["intake", "worker", "temporal"]
