"""Alert triggers: `serve` runs the HTTP intake; `fire FILE` posts one event to it (for scripts and the tour)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx
import uvicorn

from gateway.attesting import Signer
from gateway.client import Incidents
from gateway.http_server import server_config
from gateway.intake import create_app
from gateway.keyfiles import KeyProblem, gateway_signer
from gateway.logs import configure_logging, json_logs
from gateway.metrics import temporal_telemetry
from gateway.secret_file import UnsafeSecretFile, read_secret
from gateway.temporal import CannotConnect, SettingsProblem, TemporalSettings, connect, temporal_settings
from incident.config import Config, load_config

DEFAULT_ADDR = "127.0.0.1:8400"


def http_addr() -> tuple[str, int]:
    host, _, port = os.environ.get("BATON_HTTP_ADDR", DEFAULT_ADDR).rpartition(":")
    return host or "127.0.0.1", int(port)


def missing_secrets(config: Config) -> list[str]:
    return [
        f"integrations.{name}.token: environment variable {integ.token.env_var} is not set"
        for name, integ in config.integrations.intake().items()
        if integ.token.reveal() is None
    ]


def intake_token_file() -> Path:
    return Path(os.environ.get("BATON_DATA_DIR", ".baton")) / "intake-token"


async def serve_async(
    config: Config,
    host: str,
    port: int,
    with_worker: bool = False,
    config_path: str | None = None,
    settings: TemporalSettings | None = None,
) -> None:
    signer = _signer()
    try:
        # Before the first client: the SDK's runtime is chosen when a client connects.
        temporal_telemetry(json_logs=json_logs())
    except ValueError as e:
        raise SystemExit(f"baton intake: {e}") from None
    if with_worker:
        # A worker in the same process, on the same client: the server hands a new incident's first workflow
        # task straight back in the start's answer (eager start), with no dispatch and no other process waking.
        try:
            client = await connect(settings=settings)
        except CannotConnect as e:
            raise SystemExit(f"baton intake: {e}") from None
    else:
        client = await connect(lazy=True, settings=settings)
    incidents = Incidents(client, signer=signer)
    incidents.eager = with_worker
    try:
        app = create_app(config, incidents, lambda: load_config(config_path))
    except ValueError as e:
        raise SystemExit(f"baton intake: cannot start: {e}") from None
    server = uvicorn.Server(server_config(app, host, port))
    configure_logging()  # after uvicorn's own set-up, so its loggers take the JSON format too
    if not with_worker:
        await server.serve()
        return
    from worker import build_worker

    async with httpx.AsyncClient() as http, build_worker(client, config, http):
        await server.serve()


def _signer() -> Signer | None:
    """The gateway's signer. A key that is unsafe or not one stops the start; no key at all is said plainly: alerts
    are still taken, but every person's and agent's request would be refused as unproven."""
    try:
        signer = gateway_signer()
    except (KeyProblem, UnsafeSecretFile) as e:
        raise SystemExit(f"baton intake: cannot start: {e}") from None
    if signer is None:
        print(
            "baton intake: no gateway key (BATON_GATEWAY_KEY, or .baton/gateway-key from `baton up`): alerts are "
            "taken, but people and agents cannot act through this gateway (see docs/security.md)",
            file=sys.stderr,
            flush=True,
        )
    return signer


def serve(config_path: str | None = None, with_worker: bool = False) -> None:
    """Run the intake until interrupted. Refuses to start while an integration's token is unset."""
    config = load_config(config_path)
    missing = missing_secrets(config)
    if missing:
        raise SystemExit("baton intake: cannot start:\n  " + "\n  ".join(missing))
    try:
        settings = temporal_settings()
    except SettingsProblem as e:
        print(f"baton intake: cannot start: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    host, port = http_addr()
    worker = with_worker or os.environ.get("BATON_INTAKE_WORKER") == "1"
    asyncio.run(serve_async(config, host, port, worker, config_path, settings))


def intake_token() -> str:
    """$BATON_INTAKE_TOKEN, else the one `baton up` generated under the data dir (refused if others can read it)."""
    if token := os.environ.get("BATON_INTAKE_TOKEN"):
        return token
    try:
        return read_secret(intake_token_file()) or ""
    except UnsafeSecretFile as e:
        raise SystemExit(f"starter: {e}") from None


def fire(path: str, url: str | None = None, token: str | None = None) -> int:
    """POST the event in `path` to the intake; print the answer. Returns 0 on 2xx."""
    host, port = http_addr()
    body = json.loads(Path(path).read_text())
    resp = httpx.post(
        url or f"http://{host}:{port}/v1/events",
        json=body,
        headers={"Authorization": f"Bearer {token or intake_token()}"},
        timeout=10,
    )
    print(resp.status_code, resp.text)
    return 0 if resp.is_success else 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"]:
        serve()
        return 0
    if len(args) == 2 and args[0] == "fire":
        return fire(args[1])
    print("usage: python starter.py serve | python starter.py fire EVENT.json", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
