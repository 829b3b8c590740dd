"""Supervision for `baton up`: a child that dies is restarted, and the stack stops only when asked or crash-looping.

A worker that dies at 02:04 must not take the 02:05 page with it, nor Temporal and the intake. So each child that
exits on its own is logged (which one, its exit code or signal, how long it was up) and started again after a
backoff (1 s doubling to 30 s, back to 1 s once it had stayed up a minute). Only a signal (Ctrl-C, SIGTERM) stops
the stack cleanly, children in reverse start order; a child crashing more than 5 times in 2 minutes is a crash loop
no restart will fix, and stops everything with a non-zero exit.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType

# ---- the restart policy (pure: times are passed in) -----------------------------------------------------------


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 60.0
    """A child that had stayed up this long before it crashed starts the backoff again from `first_delay`."""
    max_crashes: int = 5
    window: float = 120.0
    """More than `max_crashes` crashes of one child within `window` seconds is a crash loop."""


@dataclass
class CrashRecord:
    """One child's recent crashes, read by its policy. Times are monotonic seconds."""

    policy: RestartPolicy = field(default_factory=RestartPolicy)
    streak: int = 0
    recent: deque[float] = field(default_factory=deque)

    def crashed(self, started_at: float, at: float) -> float | None:
        """Record a crash at `at` of a run started at `started_at`: the delay before restarting, or None when this
        crash makes a crash loop."""
        if at - started_at >= self.policy.stable_after:
            self.streak = 0
        self.recent.append(at)
        while self.recent[0] <= at - self.policy.window:
            self.recent.popleft()
        if len(self.recent) > self.policy.max_crashes:
            return None
        delay = min(self.policy.max_delay, self.policy.first_delay * 2**self.streak)
        self.streak += 1
        return delay


def describe_exit(returncode: int) -> str:
    """`exited with code 1`, or `was killed by SIGKILL` (Popen reports a signal as a negative code)."""
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


# ---- stopping on a signal ---------------------------------------------------------------------------------------


@dataclass
class StopRequest:
    """Set by SIGINT or SIGTERM; a second signal interrupts whatever is blocking (KeyboardInterrupt)."""

    requested: bool = False

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


# ---- the children and the loop ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildSpec:
    name: str
    cmd: list[str]
    env: dict[str, str]
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout: float = 15.0


@dataclass
class Child:
    spec: ChildSpec
    record: CrashRecord
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None


class CrashLoop(Exception):
    pass


def log(message: str) -> None:
    """What `baton up` itself says, on stderr between its children's logs, with the time of day."""
    print(f"baton up: {datetime.now(UTC):%H:%M:%S}Z {message}", file=sys.stderr, flush=True)


class Supervisor:
    """Starts children in order, restarts any that exits, stops them in reverse order."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        policy: RestartPolicy = RestartPolicy(),
        poll: float = 0.2,
        say: Callable[[str], None] = log,
    ) -> None:
        self.children = {s.name: Child(s, CrashRecord(policy)) for s in specs}
        self.poll = poll
        self.say = say

    def start(self, name: str) -> None:
        child = self.children[name]
        # Own session: Ctrl-C reaches only us, and we stop the children in order.
        child.proc = subprocess.Popen(child.spec.cmd, env=child.spec.env, start_new_session=True)
        child.started_at = time.monotonic()
        child.restart_at = None

    def exited(self) -> tuple[str, int] | None:
        """A started child that is no longer running, with its exit code (for start-up, before supervising)."""
        for name, child in self.children.items():
            if child.proc is not None and child.proc.poll() is not None:
                return name, child.proc.returncode
        return None

    def pid(self, name: str) -> int | None:
        proc = self.children[name].proc
        return proc.pid if proc is not None else None

    def supervise(self, stop: StopRequest) -> int:
        """Keep every child running until `stop` is requested (0) or one crash-loops (1)."""
        while not stop.requested:
            try:
                self.step(time.monotonic())
            except CrashLoop as e:
                self.say(str(e))
                return 1
            time.sleep(self.poll)
        return 0

    def step(self, now: float) -> None:
        """One look at every child: note a crash and schedule its restart, or restart one whose delay is over."""
        for name, child in self.children.items():
            if child.proc is not None and child.proc.poll() is not None:
                code, pid, up = child.proc.returncode, child.proc.pid, now - child.started_at
                child.proc = None
                delay = child.record.crashed(child.started_at, now)
                what = f"{name} DIED (pid {pid} {describe_exit(code)} after {up:.0f}s up)"
                policy, n = child.record.policy, len(child.record.recent)
                if delay is None:
                    raise CrashLoop(
                        f"{what}: {n} crashes within {policy.window:.0f}s is a crash loop, not a hiccup;"
                        " stopping everything (its own log above says why)"
                    )
                self.say(
                    f"{what}; restarting it in {delay:.0f}s ({n} {'crash' if n == 1 else 'crashes'} within"
                    f" {policy.window:.0f}s; more than {policy.max_crashes} stop everything)"
                )
                child.restart_at = now + delay
            elif child.proc is None and child.restart_at is not None and now >= child.restart_at:
                self.start(name)
                self.say(f"{name} restarted (pid {self.pid(name)})")

    def stop_all(self) -> None:
        """Stop the running children one by one, the last started first; kill one that outlasts its timeout."""
        for child in reversed(self.children.values()):
            child.restart_at = None
            proc, child.proc = child.proc, None
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(child.spec.stop_signal)
            try:
                proc.wait(timeout=child.spec.stop_timeout)
            except subprocess.TimeoutExpired:
                self.say(f"{child.spec.name} did not stop within {child.spec.stop_timeout:.0f}s; killing it")
                proc.kill()
                proc.wait()
