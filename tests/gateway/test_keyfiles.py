"""The gateway's key: made once with mode 0600 and its public half beside it, refused when others can read it;
and the keys a worker trusts, from the config, the environment and the data dir."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.keyfiles import KeyProblem, ensure_signing_key, signing_key, trusted_keys
from gateway.secret_file import UnsafeSecretFile
from incident.attestation import Claim, Method
from incident.config import ConfigError
from incident.keys import BadProof, SigningKey
from incident.models import Actor
from tests.helpers.config import BASE_CONFIG, make_config
from tests.helpers.http import free_port


def test_the_first_start_makes_a_key_only_its_owner_reads_and_later_starts_keep_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BATON_GATEWAY_KEY", raising=False)
    monkeypatch.delenv("BATON_TRUSTED_KEYS", raising=False)
    key = ensure_signing_key(tmp_path)
    assert stat.S_IMODE((tmp_path / "gateway-key").stat().st_mode) == 0o600
    assert (tmp_path / "gateway-key.pub").read_text().strip() == key.public_text()
    assert ensure_signing_key(tmp_path).key_id == key.key_id
    assert signing_key(tmp_path).key_id == key.key_id  # type: ignore[union-attr]
    trusted = trusted_keys(make_config(), tmp_path)
    assert len(trusted) == 1
    (tmp_path / "gateway-key").chmod(0o644)
    with pytest.raises(UnsafeSecretFile, match="readable by you only"):
        signing_key(tmp_path)


def test_a_worker_trusts_the_configured_keys_and_the_environment_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    current, nxt, stranger = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
    config = make_config(extra=f'identity:\n  trusted_keys: ["{current.public_text()}"]\n')
    monkeypatch.setenv("BATON_TRUSTED_KEYS", nxt.public_text())
    trusted = trusted_keys(config, tmp_path)
    claim = Claim(
        actor=Actor.human("alice"),
        method=Method.TOKEN,
        update="note",
        digest="0" * 64,
        workflow_id="incident:x",
        run_id="r",
        issued_at=datetime.now(UTC),
        nonce="n" * 32,
    )
    assert trusted.verify(current.sign(claim)) == claim
    assert trusted.verify(nxt.sign(claim)) == claim  # while rotating, both
    with pytest.raises(BadProof, match="does not trust"):
        trusted.verify(stranger.sign(claim))
    monkeypatch.setenv("BATON_TRUSTED_KEYS", "ed25519:short")
    with pytest.raises(KeyProblem, match="not base64url"):
        trusted_keys(config, tmp_path)


def test_a_key_in_the_config_that_is_not_one_is_refused_when_it_loads() -> None:
    with pytest.raises(ConfigError, match=r"identity\.trusted_keys"):
        make_config(extra='identity:\n  trusted_keys: ["rsa:AAAA"]\n')


def test_baton_keys_new_makes_a_pair_and_show_prints_what_workers_trust(tmp_path: Path) -> None:
    baton = str(Path(sys.executable).parent / "baton")
    env = {k: v for k, v in os.environ.items() if k != "BATON_GATEWAY_KEY"} | {"BATON_DATA_DIR": str(tmp_path)}
    made = subprocess.run([baton, "keys", "new", "--json"], env=env, capture_output=True, text=True, check=True)
    pair = json.loads(made.stdout)
    assert SigningKey.parse(pair["private"]).public_text() == pair["public"]
    missing = subprocess.run([baton, "keys", "show"], env=env, capture_output=True, text=True)
    assert missing.returncode == 1 and "no gateway key here" in missing.stderr
    env["BATON_GATEWAY_KEY"] = pair["private"]
    shown = subprocess.run([baton, "keys", "show"], env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == pair["public"]


def test_a_gateway_with_a_bad_key_does_not_start_and_one_without_a_key_says_what_it_cannot_do(
    tmp_path: Path,
) -> None:
    root = Path(__file__).parents[2]
    config = tmp_path / "baton.yaml"
    config.write_text(BASE_CONFIG.replace("SINK", "http://127.0.0.1:9"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "TEMPORAL_"))} | {
        "BATON_CONFIG": str(config),
        "BATON_DATA_DIR": str(tmp_path / "data"),
        "BATON_HTTP_ADDR": f"127.0.0.1:{free_port()}",
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
        "TEST_INTAKE_TOKEN": "intake-token",
    }
    serve = [sys.executable, "starter.py", "serve"]
    bad = subprocess.run(
        serve, env=env | {"BATON_GATEWAY_KEY": "ed25519-private:short"}, cwd=root, capture_output=True, text=True
    )
    assert bad.returncode == 1 and "cannot start: $BATON_GATEWAY_KEY" in bad.stderr
    proc = subprocess.Popen(serve, env=env, cwd=root, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # the first thing it says, before it serves
        assert "no gateway key" in line and "people and agents cannot act through this gateway" in line
    finally:
        proc.terminate()
        proc.wait(timeout=10)
