"""Connection settings from the SDK's environment configuration: a profile in a TOML file, TEMPORAL_* variables over
it, every file read and checked when a process starts, and settings it cannot use said by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from gateway.temporal import SettingsProblem, TemporalSettings, local_env, temporal_settings
from tests.helpers.certs import SERVER_NAME, Authority
from tests.helpers.processes import ROOT


def isolated(tmp_path: Path, **env: str) -> dict[str, str]:
    """No profile from this machine's own Temporal config file: HOME and XDG_CONFIG_HOME point into the test."""
    return {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / ".config"), **env}


def toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "temporal.toml"
    path.write_text(text)
    return str(path)


def test_nothing_set_is_a_local_server_without_tls(tmp_path: Path) -> None:
    settings = temporal_settings(isolated(tmp_path))
    assert settings == TemporalSettings(address="localhost:7233", namespace="default", tls=False)
    assert settings.describe() == "localhost:7233 namespace default"


def test_the_two_variables_baton_always_read_still_work(tmp_path: Path) -> None:
    settings = temporal_settings(isolated(tmp_path, TEMPORAL_ADDRESS="temporal:7233", TEMPORAL_NAMESPACE="ops"))
    assert (settings.address, settings.namespace, settings.tls) == ("temporal:7233", "ops", False)


def test_a_profile_with_mtls_files_is_read_into_memory_and_variables_override_it(tmp_path: Path) -> None:
    ca = Authority(tmp_path / "pki")
    client = ca.client()
    file = toml(
        tmp_path,
        f"""
[profile.prod]
address = "temporal.prod:7233"
namespace = "incidents"
[profile.prod.tls]
server_name = "{SERVER_NAME}"
server_ca_cert_path = "{ca.cert}"
client_cert_path = "{client.cert}"
client_key_path = "{client.key}"
""",
    )
    env = isolated(tmp_path, TEMPORAL_CONFIG_FILE=file, TEMPORAL_PROFILE="prod", TEMPORAL_NAMESPACE="drills")
    settings = temporal_settings(env)
    assert (settings.address, settings.namespace) == ("temporal.prod:7233", "drills")
    assert isinstance(settings.tls, TLSConfig)
    assert settings.tls.domain == SERVER_NAME
    assert settings.tls.server_root_ca_cert == ca.cert.read_bytes()
    assert settings.tls.client_cert == client.cert.read_bytes()
    assert settings.tls.client_private_key == client.key.read_bytes()
    assert settings.describe() == (
        f"temporal.prod:7233 namespace drills (TLS, client certificate), profile prod in {file}"
    )


def test_tls_files_from_variables_alone(tmp_path: Path) -> None:
    ca = Authority(tmp_path / "pki")
    client = ca.client()
    env = isolated(
        tmp_path,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(ca.cert),
        TEMPORAL_TLS_CLIENT_CERT_PATH=str(client.cert),
        TEMPORAL_TLS_CLIENT_KEY_PATH=str(client.key),
        TEMPORAL_TLS_SERVER_NAME=SERVER_NAME,
    )
    tls = temporal_settings(env).tls
    assert isinstance(tls, TLSConfig)
    assert (tls.domain, tls.client_cert) == (SERVER_NAME, client.cert.read_bytes())


def test_an_api_key_turns_tls_on_and_is_never_described(tmp_path: Path) -> None:
    env = isolated(
        tmp_path,
        TEMPORAL_ADDRESS="eu-west-1.aws.api.temporal.io:7233",
        TEMPORAL_NAMESPACE="acme.a1b2c",
        TEMPORAL_API_KEY="secret-key-value",
    )
    settings = temporal_settings(env)
    assert settings.api_key == "secret-key-value"
    assert settings.tls is True
    assert settings.connect_args()["api_key"] == "secret-key-value"
    assert "secret-key-value" not in settings.describe()
    assert "API key" in settings.describe()


@pytest.mark.parametrize("value", ["false", "False", "0"])
def test_tls_said_off_stays_off(tmp_path: Path, value: str) -> None:
    assert temporal_settings(isolated(tmp_path, TEMPORAL_TLS=value)).tls is False


@pytest.mark.parametrize("value", ["no", "yes", "", "off"])
def test_a_tls_switch_that_is_not_true_or_false_is_refused(tmp_path: Path, value: str) -> None:
    # The SDK reads anything but true/false/1/0 as "TLS on": `TEMPORAL_TLS=no` would turn it on.
    with pytest.raises(SettingsProblem, match=f"TEMPORAL_TLS={value!r}: say true or false"):
        temporal_settings(isolated(tmp_path, TEMPORAL_TLS=value))


def test_a_profile_that_is_not_in_the_file_is_named_with_the_ones_that_are(tmp_path: Path) -> None:
    file = toml(tmp_path, '[profile.prod]\naddress = "a:7233"\n[profile.staging]\naddress = "b:7233"\n')
    env = isolated(tmp_path, TEMPORAL_CONFIG_FILE=file, TEMPORAL_PROFILE="production")
    with pytest.raises(SettingsProblem) as e:
        temporal_settings(env)
    assert str(e.value) == (
        f"TEMPORAL_PROFILE=production: TEMPORAL_CONFIG_FILE {file} has no such profile (it has: prod, staging)"
    )


def test_a_config_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(SettingsProblem, match=f"TEMPORAL_CONFIG_FILE={missing}: cannot read it"):
        temporal_settings(isolated(tmp_path, TEMPORAL_CONFIG_FILE=str(missing)))


def test_a_mistyped_key_in_the_file_is_refused_not_ignored(tmp_path: Path) -> None:
    # Ignored, `adress` would send the worker to localhost.
    file = toml(tmp_path, '[profile.default]\nadress = "temporal.prod:7233"\n')
    with pytest.raises(SettingsProblem, match="unknown field `adress`"):
        temporal_settings(isolated(tmp_path, TEMPORAL_CONFIG_FILE=file))


def test_a_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    file = toml(tmp_path, "[profile.default\n")
    with pytest.raises(SettingsProblem, match=f"TEMPORAL_CONFIG_FILE {file}.*TOML parse error"):
        temporal_settings(isolated(tmp_path, TEMPORAL_CONFIG_FILE=file))


def test_a_certificate_file_that_cannot_be_read_is_named_with_its_setting(tmp_path: Path) -> None:
    client = Authority(tmp_path / "pki").client()
    gone = tmp_path / "pki" / "gone.pem"
    env = isolated(tmp_path, TEMPORAL_TLS_CLIENT_CERT_PATH=str(gone), TEMPORAL_TLS_CLIENT_KEY_PATH=str(client.key))
    with pytest.raises(SettingsProblem) as e:
        temporal_settings(env)
    assert str(e.value) == (
        f"the client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH {gone}): cannot read it (No such file or directory)"
    )


def test_a_ca_file_in_a_profile_that_is_not_a_certificate_is_named(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    file = toml(tmp_path, f'[profile.default.tls]\nserver_ca_cert_path = "{bogus}"\n')
    with pytest.raises(SettingsProblem) as e:
        temporal_settings(isolated(tmp_path, TEMPORAL_CONFIG_FILE=file))
    assert str(e.value) == f"the server's CA certificate (tls.server_ca_cert {bogus}) is not a PEM certificate"


def test_a_key_that_is_not_a_key_is_named(tmp_path: Path) -> None:
    client = Authority(tmp_path / "pki").client()
    env = isolated(
        tmp_path, TEMPORAL_TLS_CLIENT_CERT_PATH=str(client.cert), TEMPORAL_TLS_CLIENT_KEY_PATH=str(client.cert)
    )
    with pytest.raises(SettingsProblem, match=r"the client key \(TEMPORAL_TLS_CLIENT_KEY_PATH .*\) is not an"):
        temporal_settings(env)


def test_a_client_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    client = Authority(tmp_path / "pki").client()
    with pytest.raises(SettingsProblem, match=r"the client certificate .* needs the client key too"):
        temporal_settings(isolated(tmp_path, TEMPORAL_TLS_CLIENT_CERT_PATH=str(client.cert)))


def test_baton_up_children_ignore_the_shells_profile_for_another_temporal(tmp_path: Path) -> None:
    cloud = toml(tmp_path, '[profile.default]\naddress = "acme.tmprl.cloud:7233"\napi_key = "k"\n')
    shell = isolated(tmp_path, TEMPORAL_CONFIG_FILE=cloud, TEMPORAL_API_KEY="k", TEMPORAL_NAMESPACE="acme", PATH="x")
    env = local_env(shell, "127.0.0.1:7233")
    assert env["PATH"] == "x"
    assert temporal_settings(env) == TemporalSettings(address="127.0.0.1:7233", namespace="default", tls=False)


BATON = str(Path(sys.executable).parent / "baton")


@pytest.mark.parametrize(
    "command",
    [[sys.executable, "-m", "worker"], [sys.executable, "starter.py", "serve"], [BATON, "worker"], [BATON, "intake"]],
)
def test_processes_refuse_bad_settings_with_exit_2_and_a_sentence(tmp_path: Path, command: list[str]) -> None:
    env = os.environ | isolated(tmp_path, TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(tmp_path / "ca.pem"))
    env |= {"BATON_CONFIG": str(ROOT / "baton.example.yaml"), "BATON_DATA_DIR": str(tmp_path / "data")}
    env["BATON_INTAKE_TOKEN"] = "intake-token-0123456789"
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"the server's CA certificate (TEMPORAL_TLS_SERVER_CA_CERT_PATH {tmp_path / 'ca.pem'})" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("value", ["lots", "-5", "1e4"])
def test_a_worker_cache_size_that_is_not_a_count_is_refused_with_exit_2(tmp_path: Path, value: str) -> None:
    env = os.environ | isolated(tmp_path, BATON_WORKFLOW_CACHE=value)
    env |= {"BATON_CONFIG": str(ROOT / "baton.example.yaml"), "BATON_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-m", "worker"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert f"BATON_WORKFLOW_CACHE={value!r}: expected a whole number of incidents" in done.stderr
    assert "Traceback" not in done.stderr
