"""baton on a Temporal that wants mutual TLS, for real: a dev server behind HAProxy requiring a client certificate
from our CA. With the right files (a profile for the worker, TEMPORAL_* variables for the intake) an alert opens
an incident and its page goes out; a wrong CA, no client certificate or one from another CA is refused, in a
sentence that says which."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from temporalio.client import Client

from gateway.temporal import CannotConnect, connect, temporal_settings
from tests.helpers.certs import SERVER_NAME, Authority, Issued
from tests.helpers.processes import ROOT, DevServer, intake, worker
from tests.helpers.receiver import webhook_receiver
from tests.helpers.stack import AUTH, TOKEN_ENV, config_text, event, worker_polling
from tests.helpers.temporal import TRUSTED_ENV
from tests.helpers.tls import MutualTLS
from tests.helpers.wait import until

pytestmark = pytest.mark.integration
T = TypeVar("T")


@dataclass
class Secured:
    """A dev server reachable only through mutual TLS, and the files a client needs (or must not have)."""

    tls: MutualTLS
    ca: Authority
    client: Issued
    other_ca: Authority
    tmp: Path

    def env(self, ca: Path | None = None, client: Issued | None = None) -> dict[str, str]:
        """TEMPORAL_* variables for this server: our CA and client certificate unless told otherwise."""
        env = {
            "HOME": str(self.tmp),  # no profile from this machine's own Temporal config file
            "TEMPORAL_ADDRESS": self.tls.address,
            "TEMPORAL_TLS_SERVER_NAME": SERVER_NAME,
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(ca or self.ca.cert),
        }
        if client is not None:
            env |= {"TEMPORAL_TLS_CLIENT_CERT_PATH": str(client.cert), "TEMPORAL_TLS_CLIENT_KEY_PATH": str(client.key)}
        return env

    async def connect(self, ca: Path | None = None, client: Issued | None = None) -> Client:
        return await connect(settings=temporal_settings(self.env(ca, client)))


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    ca = Authority(tmp_path / "pki")
    server = DevServer(tmp_path / "temporal.db", tmp_path / "temporal.log")
    server.start()
    tls = MutualTLS(server.address, ca, ca.server(), tmp_path)
    try:
        tls.start()
        yield Secured(tls, ca, ca.client(), Authority(tmp_path / "other", name="another CA"), tmp_path)
    finally:
        tls.stop()
        server.terminate()


async def test_with_the_right_files_an_alert_opens_an_incident_and_pages(secured: Secured, tmp_path: Path) -> None:
    client = await until(lambda: _connected(secured), timeout=30)
    queue = f"mtls-{uuid.uuid4().hex[:8]}"
    profile = tmp_path / "temporal.toml"
    profile.write_text(
        f"""[profile.cluster]
address = "{secured.tls.address}"
[profile.cluster.tls]
server_name = "{SERVER_NAME}"
server_ca_cert_path = "{secured.ca.cert}"
client_cert_path = "{secured.client.cert}"
client_key_path = "{secured.client.key}"
"""
    )
    with webhook_receiver() as receiver:
        config = tmp_path / "baton.yaml"
        config.write_text(config_text(receiver.url, 60, 60))
        w = worker(secured.tls.address, config, queue, tmp_path / "worker.log")
        del w.env["TEMPORAL_ADDRESS"]  # the worker from its profile alone, the intake from variables alone
        w.env |= TOKEN_ENV | TRUSTED_ENV | {"TEMPORAL_CONFIG_FILE": str(profile), "TEMPORAL_PROFILE": "cluster"}
        i = intake(secured.tls.address, config, queue, tmp_path / "intake.log", TOKEN_ENV)
        i.child.env |= secured.env(client=secured.client)
        try:
            w.start()
            await worker_polling(client, queue, w)
            i.start()
            health = httpx.get(f"{i.url}/healthz", timeout=5)
            assert health.json() == {"status": "ok", "temporal": "ok"}, i.child.output()[-3000:]
            key = f"mtls-{queue}"
            answer = httpx.post(f"{i.url}/v1/events", json=event(key, 1), headers=AUTH, timeout=10)
            assert answer.is_success, answer.text
            paged = await until(lambda: _now(receiver.pages), timeout=30)
            assert [p.body.get("recipient") for p in paged] == ["alice"]
            incident = paged[0].body["incident_id"]
            opened = await until(lambda: _listed(client, f"IncidentId = '{incident}'"), timeout=15)
            assert len(opened) == 1
        finally:
            i.terminate()
            w.terminate()
        assert "Traceback" not in w.output() + i.child.output()


async def test_a_wrong_ca_is_refused_in_a_sentence(secured: Secured) -> None:
    await until(lambda: _connected(secured), timeout=30)
    with pytest.raises(CannotConnect) as e:
        await secured.connect(ca=secured.other_ca.cert, client=secured.client)
    assert str(e.value).startswith(
        f"cannot connect to Temporal at {secured.tls.address} namespace default (TLS, client certificate): the "
        "server's certificate is not signed by the CA baton trusts (TEMPORAL_TLS_SERVER_CA_CERT_PATH)"
    )


def test_a_worker_with_a_wrong_ca_stops_with_that_sentence_not_a_traceback(secured: Secured) -> None:
    env = os.environ | secured.env(ca=secured.other_ca.cert, client=secured.client)
    env["BATON_CONFIG"] = str(ROOT / "baton.example.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "worker"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stderr
    assert "baton worker: cannot connect to Temporal at" in done.stderr
    assert "not signed by the CA baton trusts" in done.stderr
    assert "Traceback" not in done.stderr


async def test_without_a_client_certificate_the_server_refuses(secured: Secured) -> None:
    await until(lambda: _connected(secured), timeout=30)
    with pytest.raises(CannotConnect, match="the server wants a client certificate"):
        await secured.connect()


async def test_a_client_certificate_from_another_ca_is_refused(secured: Secured) -> None:
    await until(lambda: _connected(secured), timeout=30)
    stranger = secured.other_ca.client("stranger")
    with pytest.raises(CannotConnect) as e:
        await secured.connect(client=stranger)
    # With TLS 1.3 the server's refusal comes as its alert or, after the handshake, as the connection closed.
    assert "does not trust this client certificate" in str(e.value)


async def _connected(secured: Secured) -> Client | None:
    """The mTLS client once the dev server behind HAProxy answers a call."""
    try:
        client = await secured.connect(client=secured.client)
        await client.service_client.check_health()
        return client
    except (CannotConnect, RuntimeError):
        return None


async def _now(read: Callable[[], T]) -> T:
    return read()


async def _listed(client: Client, query: str) -> list[str]:
    return [wf.id async for wf in client.list_workflows(query)]
