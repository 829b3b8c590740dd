"""Connecting to Temporal the same way everywhere: where and how from the SDK's environment configuration
(`temporalio.envconfig`: a profile in a TOML file, `TEMPORAL_*` variables over it), pydantic payloads, and the
search attributes incidents set, registered the same way on every server."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig, ClientConfigProfile, ClientConfigTLS, DataSource
from temporalio.service import RPCError, TLSConfig

from workflows import search_attributes as sa

TASK_QUEUE = os.environ.get("BATON_TASK_QUEUE", "baton")
DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"
CONFIG_FILE_ENV = "TEMPORAL_CONFIG_FILE"
PROFILE_ENV = "TEMPORAL_PROFILE"
TLS_ENV = "TEMPORAL_TLS"
BOOLEANS = ("true", "false", "1", "0")
"""What the SDK reads as a boolean in TEMPORAL_TLS, in any case; anything else it takes as "TLS on", even `no`."""


class SettingsProblem(Exception):
    """The Temporal connection settings cannot be used (a profile that is not there, a file that cannot be read, a
    certificate that is not one): said by name when a process starts, never a traceback on the first call."""


class CannotConnect(RuntimeError):
    """Temporal did not take the connection (down, a wrong address, TLS refused either way), with the settings that
    were tried. A RuntimeError like the SDK's own, so callers that wait for a server keep working."""


@dataclass(frozen=True)
class Source:
    """One TLS file (or inline PEM) of the settings, and the setting that named it, for errors."""

    what: str
    env_path: str
    key: str

    def setting(self, env: Mapping[str, str]) -> str:
        if env.get(self.env_path):
            return self.env_path
        if env.get(self.env_path.removesuffix("_PATH") + "_DATA"):
            return self.env_path.removesuffix("_PATH") + "_DATA"
        return f"tls.{self.key}"


CA = Source("the server's CA certificate", "TEMPORAL_TLS_SERVER_CA_CERT_PATH", "server_ca_cert")
CERT = Source("the client certificate", "TEMPORAL_TLS_CLIENT_CERT_PATH", "client_cert")
KEY = Source("the client key", "TEMPORAL_TLS_CLIENT_KEY_PATH", "client_key")


@dataclass(frozen=True)
class TemporalSettings:
    """Where baton's processes find Temporal and how they prove who they are. `describe()` holds no secret."""

    address: str = DEFAULT_ADDRESS
    namespace: str = DEFAULT_NAMESPACE
    tls: bool | TLSConfig = False
    api_key: str | None = None
    rpc_metadata: Mapping[str, str] = field(default_factory=dict)
    origin: str = "environment"

    def describe(self) -> str:
        how = []
        if self.tls:
            how.append("TLS")
        if isinstance(self.tls, TLSConfig) and self.tls.client_cert:
            how.append("client certificate")
        if self.api_key:
            how.append("API key")
        return (
            f"{self.address} namespace {self.namespace}"
            + (f" ({', '.join(how)})" if how else "")
            + (f", {self.origin}" if self.origin != "environment" else "")
        )

    def connect_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"target_host": self.address, "namespace": self.namespace, "tls": self.tls}
        if self.api_key:
            args["api_key"] = self.api_key
        if self.rpc_metadata:
            args["rpc_metadata"] = self.rpc_metadata
        return args


def temporal_settings(env: Mapping[str, str] | None = None) -> TemporalSettings:
    """The connection settings from the SDK's environment configuration: the profile $TEMPORAL_PROFILE (default
    `default`) of the TOML file $TEMPORAL_CONFIG_FILE (default the SDK's own, ~/.config/temporalio/temporal.toml),
    with TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS* over it. Every file is read and
    checked here, so a process refuses to start on settings it could not use (SettingsProblem, naming them)."""
    env = dict(os.environ if env is None else env)
    if (tls := env.get(TLS_ENV)) is not None and tls.lower() not in BOOLEANS:
        raise SettingsProblem(f"{TLS_ENV}={tls!r}: say true or false")
    file = env.get(CONFIG_FILE_ENV)
    where = f"{CONFIG_FILE_ENV} {file}" if file else "the Temporal config file"
    if file:
        try:
            Path(file).read_bytes()
        except OSError as e:
            raise SettingsProblem(f"{CONFIG_FILE_ENV}={file}: cannot read it ({e.strerror or e})") from None
    name = env.get(PROFILE_ENV) or None
    try:
        profile = ClientConfigProfile.load(name, config_file_strict=True, override_env_vars=env)
    except RuntimeError as e:  # the SDK's ConfigError
        if name and "not found" in str(e):
            raise SettingsProblem(f"{PROFILE_ENV}={name}: {where} has no such profile{_profiles(env)}") from None
        raise SettingsProblem(f"Temporal connection settings ({where}): {str(e).strip()}") from None
    tls_config = _read_tls(profile.tls, env) if profile.tls is not None else None
    connect = replace(profile, tls=tls_config).to_client_connect_config()
    origin = f"profile {name} in {file or 'the Temporal config file'}" if name else "environment"
    return TemporalSettings(
        address=connect.get("target_host") or DEFAULT_ADDRESS,
        namespace=connect.get("namespace") or DEFAULT_NAMESPACE,
        tls=connect.get("tls", False),
        api_key=connect.get("api_key"),
        rpc_metadata=dict(connect.get("rpc_metadata", {})),
        origin=origin,
    )


def _profiles(env: Mapping[str, str]) -> str:
    try:
        names = sorted(ClientConfig.load(override_env_vars=env).profiles)
    except RuntimeError:
        return ""
    return f" (it has: {', '.join(names)})" if names else " (it has none)"


def _read_tls(tls: ClientConfigTLS, env: Mapping[str, str]) -> ClientConfigTLS:
    """Each TLS file read into memory and checked to be what it should be (PEM certificates, an unencrypted key)."""
    ca = _read(tls.server_root_ca_cert, CA, env)
    cert = _read(tls.client_cert, CERT, env)
    key = _read(tls.client_private_key, KEY, env)
    if (cert is None) != (key is None):
        have, lack = (CERT, KEY) if key is None else (KEY, CERT)
        raise SettingsProblem(
            f"{have.what} ({have.setting(env)}) needs {lack.what} too ({lack.env_path} or tls.{lack.key}_path)"
        )
    for source, data in ((CA, ca), (CERT, cert)):
        if data is not None:
            try:
                x509.load_pem_x509_certificates(data)
            except ValueError:
                raise SettingsProblem(f"{source.what} ({_named(tls, source, env)}) is not a PEM certificate") from None
    if key is not None:
        try:
            serialization.load_pem_private_key(key, password=None)
        except (ValueError, TypeError):
            raise SettingsProblem(
                f"{KEY.what} ({_named(tls, KEY, env)}) is not an unencrypted PEM private key"
            ) from None
    return replace(tls, server_root_ca_cert=ca, client_cert=cert, client_private_key=key)


def _named(tls: ClientConfigTLS, source: Source, env: Mapping[str, str]) -> str:
    value = {CA: tls.server_root_ca_cert, CERT: tls.client_cert, KEY: tls.client_private_key}[source]
    return f"{source.setting(env)} {value}" if isinstance(value, Path) else source.setting(env)


def _read(value: DataSource | None, source: Source, env: Mapping[str, str]) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, Path):
        try:
            return value.read_bytes()
        except OSError as e:
            raise SettingsProblem(
                f"{source.what} ({source.setting(env)} {value}): cannot read it ({e.strerror or e})"
            ) from None
    return value.encode() if isinstance(value, str) else value


def local_env(env: Mapping[str, str], address: str) -> dict[str, str]:
    """`env` for processes on a dev server of our own (`baton up`): its address, the default namespace, no TLS, no
    API key, no config file, whatever profile this shell has for another Temporal (the temporal CLI's own file
    often points at a cluster or Cloud)."""
    kept = {k: v for k, v in env.items() if not k.startswith("TEMPORAL_")}
    return kept | {"TEMPORAL_ADDRESS": address, "TEMPORAL_NAMESPACE": DEFAULT_NAMESPACE, CONFIG_FILE_ENV: os.devnull}


HINTS = (
    ("UnknownIssuer", f"the server's certificate is not signed by the CA baton trusts ({CA.env_path}): "),
    ("NotValidForName", "the server's certificate is not for this name (TEMPORAL_TLS_SERVER_NAME): "),
    ("CertificateRequired", f"the server wants a client certificate ({CERT.env_path}, {KEY.env_path}): "),
    ("alert: UnknownCA", "the server does not trust this client certificate (signed by a CA it does not take): "),
    ("alert: BadCertificate", "the server does not take this client certificate: "),
    ("H2NotNegotiated", "the TLS endpoint does not offer HTTP/2 (ALPN h2), which gRPC needs: "),
    ("InvalidContentType", "the server does not speak TLS (TEMPORAL_TLS=false?): "),
    ("CorruptMessage", "the server does not speak TLS (TEMPORAL_TLS=false?): "),
)
"""What the SDK's transport errors mean for the settings, put before its own words."""
CLOSED = ("connection closed", "broken pipe", "BrokenPipe", "ConnectionReset", "connection reset")
CLOSED_AFTER_TLS_CERT = (
    "the server closed the connection once TLS was set up: it does not trust this client certificate (or takes "
    "none from its CA): "
)
CLOSED_AFTER_TLS_NO_CERT = (
    f"the server closed the connection once TLS was set up: the server wants a client certificate "
    f"({CERT.env_path}, {KEY.env_path}), or takes no connection from here: "
)


async def connect(
    address: str | None = None,
    namespace: str | None = None,
    lazy: bool = False,
    settings: TemporalSettings | None = None,
) -> Client:
    """A client with the pydantic converter, on `settings` (default: the environment's; `address` and
    `namespace` over them). `lazy` defers
    the connection to the first call (the intake starts even while Temporal is down, and answers 503 until it is
    back). Raises SettingsProblem for settings it cannot use, CannotConnect when Temporal does not take them."""
    settings = settings or temporal_settings()
    settings = replace(settings, address=address or settings.address, namespace=namespace or settings.namespace)
    try:
        return await Client.connect(**settings.connect_args(), data_converter=pydantic_data_converter, lazy=lazy)
    except RuntimeError as e:
        hint = next((h for marker, h in HINTS if marker in str(e)), "")
        if not hint and settings.tls and any(m in str(e) for m in CLOSED):
            # TLS 1.3: a server refusing the client's certificate (or its lack) may say so only by closing the
            # connection after the handshake, as the first call goes out.
            with_cert = isinstance(settings.tls, TLSConfig) and settings.tls.client_cert
            hint = CLOSED_AFTER_TLS_CERT if with_cert else CLOSED_AFTER_TLS_NO_CERT
        raise CannotConnect(f"cannot connect to Temporal at {settings.describe()}: {hint}{e}") from None


async def register_search_attributes(client: Client) -> None:
    """Every search attribute the incident workflow sets, each with its own type, on the client's namespace: a
    server started without them (the test server, a drill's) must have them before the first incident starts."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type.value) for k in sa.ALL},
        )
    )


class SearchAttributesMissing(Exception):
    """The namespace lacks search attributes incidents set, and they could not be added: an incident setting one
    would fail its workflow task on every retry, so a worker does not start."""


async def ensure_search_attributes(client: Client) -> list[str]:
    """Add the search attributes the namespace lacks (a server set up for an earlier baton has fewer); the names
    added. Refuses a namespace where one has another type, or where they cannot be added (no operator rights, as
    on Temporal Cloud), naming the command that adds them."""
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    have = dict(listed.custom_attributes)
    wrong = [k for k in sa.ALL if k.name in have and have[k.name] != k.indexed_value_type.value]
    if wrong:
        names = ", ".join(f"{k.name} (should be {sa.type_name(k)})" for k in wrong)
        raise SearchAttributesMissing(f"namespace {client.namespace} has search attributes of another type: {names}")
    missing = [k for k in sa.ALL if k.name not in have]
    if not missing:
        return []
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type.value) for k in missing},
            )
        )
    except RPCError as e:
        if "already" not in e.message.lower():  # another worker added them at the same moment
            add = "; ".join(
                f"temporal operator search-attribute create --namespace {client.namespace} --name {k.name} "
                f"--type {sa.type_name(k)}"
                for k in missing
            )
            raise SearchAttributesMissing(
                f"namespace {client.namespace} lacks search attributes {', '.join(k.name for k in missing)} and "
                f"they could not be added ({e.message}); add them: {add}"
            ) from None
    return [k.name for k in missing]


def search_attribute_flags() -> list[str]:
    """The same attributes for a dev server's command line (`baton up`): it has them from its first moment."""
    flags: list[str] = []
    for key in sa.ALL:
        flags += ["--search-attribute", f"{key.name}={sa.type_name(key)}"]
    return flags
