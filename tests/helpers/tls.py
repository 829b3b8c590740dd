"""A TLS terminator in front of a Temporal dev server, as a cluster's ingress or a service mesh puts one: HAProxy
(Debian's `haproxy`) requiring a client certificate signed by our CA, offering HTTP/2 by ALPN as gRPC needs (stunnel
cannot), passing the bytes through to the dev server's plain port."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.certs import Authority, Issued
from tests.helpers.processes import Child, free_port, port_open, wait_for


def haproxy() -> str:
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    assert found, "haproxy is not installed: scripts/test-deps installs it (Debian package haproxy)"
    return found


@dataclass
class MutualTLS:
    """Listens on 127.0.0.1:`port` with `server`'s certificate; forwards to `upstream` ("host:port")."""

    upstream: str
    ca: Authority
    server: Issued
    directory: Path
    port: int = field(default_factory=free_port)
    child: Child | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        bundle = self.directory / "haproxy-server.pem"  # HAProxy wants the certificate and its key in one file
        bundle.write_bytes(self.server.cert.read_bytes() + self.server.key.read_bytes())
        bundle.chmod(0o600)
        config = self.directory / "haproxy.cfg"
        config.write_text(
            f"""global
  log stdout format raw local0 info
defaults
  mode tcp
  log global
  option tcplog
  timeout connect 5s
  timeout client 10m
  timeout server 10m
frontend temporal
  bind {self.address} ssl crt {bundle} ca-file {self.ca.cert} verify required alpn h2
  default_backend dev
backend dev
  server dev {self.upstream}
"""
        )
        self.child = Child("haproxy", [haproxy(), "-db", "-f", str(config)], {}, self.directory / "haproxy.log")
        self.child.start()
        wait_for(lambda: port_open(self.port), "HAProxy listening", timeout)

    def stop(self) -> None:
        if self.child is not None:
            self.child.terminate()

    def log(self) -> str:
        return self.child.output() if self.child is not None else ""
