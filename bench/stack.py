"""The system under benchmark, as `baton up` runs it: a dev server, a worker and the intake, each its own process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gateway.up import dev_server_args, installed_binary, port_open

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"


@dataclass
class Stack:
    address: str
    intake: str
    tmp: Path
    procs: list[subprocess.Popen[bytes]]

    def cpu(self) -> list[float]:
        """CPU seconds used so far by (server, worker, intake), or (server, intake+worker)."""
        return [cpu_seconds(p.pid) for p in self.procs]

    def memory(self) -> list[dict[str, int]]:
        """Resident and proportional set size, bytes, per process in the order of `cpu`."""
        return [memory(p.pid) for p in self.procs]

    def db_bytes(self) -> dict[str, int]:
        """The dev server's SQLite database on disk: the file, its write-ahead log and shared-memory index."""
        db = self.tmp / "t.db"
        return {
            "db": db.stat().st_size,
            "wal": _size(db.with_name("t.db-wal")),
            "shm": _size(db.with_name("t.db-shm")),
        }


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def memory(pid: int) -> dict[str, int]:
    """VmRSS (what `top` shows) and Pss from smaps_rollup (shared pages split between the processes using them)."""
    out = {}
    for name, field in (("status", "VmRSS:"), ("smaps_rollup", "Pss:")):
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(field):
                out["rss" if name == "status" else "pss"] = int(line.split()[1]) * 1024
                break
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listening on {port}")
        time.sleep(0.1)


@contextmanager
def baton_stack(config: str, worker_in_intake: bool = False, env: dict[str, str] | None = None) -> Iterator[Stack]:
    """Start everything with `config` (YAML text, intake tokens from BATON_INTAKE_TOKEN); stop it all after.
    `worker_in_intake` runs the worker inside the intake process instead of its own; `env` is added to the
    worker's and the intake's environment (e.g. BATON_WORKFLOW_CACHE)."""
    tmp = Path(tempfile.mkdtemp(prefix="baton-bench-"))
    (tmp / "baton.yaml").write_text(config)
    tport, hport = free_port(), free_port()
    env = (
        os.environ
        | {
            "TEMPORAL_ADDRESS": f"127.0.0.1:{tport}",
            "BATON_CONFIG": str(tmp / "baton.yaml"),
            "BATON_INTAKE_TOKEN": TOKEN,
            "BATON_HTTP_ADDR": f"127.0.0.1:{hport}",
            "BATON_TASK_QUEUE": "bench",
            "BATON_INTAKE_WORKER": "1" if worker_in_intake else "0",
        }
        | (env or {})
    )
    quiet = subprocess.DEVNULL
    server = [installed_binary("temporal"), *dev_server_args(tmp / "t.db", tport, None)]
    procs = [subprocess.Popen(server, stdout=quiet, stderr=quiet)]
    try:
        wait_port(tport)
        parts = (("starter", ["serve"]),) if worker_in_intake else (("worker", []), ("starter", ["serve"]))
        for module, extra in parts:
            cmd = [sys.executable, "-m", module, *extra]
            procs.append(subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=quiet, stderr=quiet))
        wait_port(hport)
        yield Stack(address=f"127.0.0.1:{tport}", intake=f"http://127.0.0.1:{hport}", tmp=tmp, procs=procs)
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=30)
