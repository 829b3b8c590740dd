"""Several hosts on one machine: a network namespace per host, joined to the root namespace by a veth pair on a
bridge, so a test can cut one host off the network (its link down) while its processes keep running, as a
partition or a dead switch port does it, not a crash.

    root namespace: bridge 10.X.Y.1/24 (Temporal, the webhook receiver, the test itself)
      ├─ veth ── namespace w1: 10.X.Y.11
      ├─ veth ── namespace w2: 10.X.Y.12
      └─ ...

Needs root and iproute2 (`ip netns`, veth, bridge). Anything missing fails loudly (`NetnsUnavailable`); only a
test not run as root may skip, saying so. Everything made is removed on leaving, even after a failure.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


class NetnsUnavailable(RuntimeError):
    """Network namespaces cannot be made here (no iproute2, no permission, no veth or bridge support)."""


def is_root() -> bool:
    return os.geteuid() == 0


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """One `ip` command; a failure names the command and what it printed."""
    binary = shutil.which("ip")
    if binary is None:
        raise NetnsUnavailable("the `ip` command (iproute2) is not installed: apt-get install iproute2")
    done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise NetnsUnavailable(f"`ip {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()}")
    return done


@dataclass
class Host:
    """One namespace: the processes started through `wrap` see only its link to the bridge."""

    name: str
    """the namespace's name"""
    address: str
    """its address on the bridge"""
    link: str
    """the root namespace's end of its veth pair: down is this host cut off"""

    def wrap(self, cmd: list[str]) -> list[str]:
        """`cmd` run inside this host (`ip netns exec` execs it: the process keeps the pid it was started with)."""
        return [shutil.which("ip") or "ip", "netns", "exec", self.name, *cmd]

    def cut(self) -> None:
        """Take this host off the network: nothing it sends arrives, nothing reaches it; it does not notice."""
        ip("link", "set", self.link, "down")

    def reconnect(self) -> None:
        ip("link", "set", self.link, "up")


@dataclass
class Network:
    bridge: str
    gateway: str
    """the root namespace's address on the bridge: where the hosts reach Temporal and the receiver"""
    hosts: dict[str, Host] = field(default_factory=dict)


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 under 10.0.0.0/8 that no route of this machine uses."""
    routes = ip("-4", "route", "show", "table", "all").stdout
    used = [ipaddress.ip_network(w, strict=False) for w in routes.split() if "/" in w and w[0].isdigit()]
    for _ in range(100):
        net = ipaddress.IPv4Network(f"10.{secrets.randbelow(200) + 50}.{secrets.randbelow(256)}.0/24")
        if not any(net.overlaps(u) for u in used):
            return net
    raise NetnsUnavailable("no free 10.x.y.0/24 subnet for the test network")


@contextmanager
def network(names: list[str]) -> Iterator[Network]:
    """A bridge in the root namespace and one namespace per name on it; all removed on leaving."""
    if not is_root():
        raise NetnsUnavailable("network namespaces need root")
    tag = secrets.token_hex(3)
    subnet = _free_subnet()
    addresses = list(subnet.hosts())
    bridge = f"bb{tag}"
    made_ns: list[str] = []
    made_links: list[str] = [bridge]
    try:
        ip("link", "add", bridge, "type", "bridge")
        ip("addr", "add", f"{addresses[0]}/{subnet.prefixlen}", "dev", bridge)
        ip("link", "set", bridge, "up")
        net = Network(bridge=bridge, gateway=str(addresses[0]))
        for n, name in enumerate(names, start=1):
            ns, outer, inner = f"baton-{tag}-{name}", f"vb{tag}{n}", f"vn{tag}{n}"
            address = str(addresses[9 + n])
            ip("netns", "add", ns)
            made_ns.append(ns)
            ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            made_links.append(outer)
            ip("link", "set", inner, "netns", ns)
            ip("link", "set", outer, "master", bridge)
            ip("link", "set", outer, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "addr", "add", f"{address}/{subnet.prefixlen}", "dev", inner)
            ip("-n", ns, "link", "set", inner, "up")
            ip("-n", ns, "route", "add", "default", "via", net.gateway)
            net.hosts[name] = Host(ns, address, outer)
        yield net
    finally:
        for ns in made_ns:
            ip("netns", "del", ns, check=False)  # its end of the veth goes with it, and the pair with that
        for link in made_links:
            if ip("link", "show", link, check=False).returncode == 0:
                ip("link", "del", link, check=False)


def leftovers() -> list[str]:
    """Namespaces a test network made that still exist (a cleanup that did not happen)."""
    return [line.split()[0] for line in ip("netns", "list").stdout.splitlines() if line.startswith("baton-")]
