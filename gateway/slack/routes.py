"""The Slack app's two endpoints: the page's buttons and modals (`POST /v1/slack/interactions`) and the `/baton`
slash command (`POST /v1/slack/commands`).

Every request is verified first (`gateway.slack.signing`: Slack's signature, five-minute window, no replays).
Slack users act as the person whose `slack:` member id they are; anyone else may read (`status`, `oncall`) but
not decide.

Slack wants an answer within three seconds. The façade call gets `deadline` seconds; if it takes longer the
request is acknowledged and the work finishes in the background, which then tells the user through the message
or the `response_url`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qs

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from gateway.answers import answers
from gateway.client import Incidents, Unavailable
from gateway.maintenance import Windows
from gateway.memo import SharedMemo
from gateway.slack.commands import Commands
from gateway.slack.deadline import DEADLINE, Deadline
from gateway.slack.interactions import Interactions
from gateway.slack.originals import Originals
from gateway.slack.people import People
from gateway.slack.signing import WINDOW, ReplayCache, Unverified, verify
from gateway.slack.web import SlackWeb
from incident.attestation import Method
from incident.config import Config, SlackIntegration

log = structlog.get_logger("baton.slack")


class SlackGate:
    """Whether a request is Slack's: the integration must be configured and the signature must hold, and no
    gateway may have taken the same signed request before (`shared`: every intake asks the same memo)."""

    def __init__(self, slack: SlackIntegration | None, shared: SharedMemo | None = None):
        self.slack = slack
        self.replays = ReplayCache()
        self.shared = shared

    async def check(self, headers: Mapping[str, str], body: bytes) -> JSONResponse | None:
        """None when the request is Slack's; else the answer: 404/503 when Slack is not set up, 401 when not. When
        whether another intake took it cannot be told (Temporal unreachable), this intake's own check stands: what
        the request would do needs Temporal too, so it answers 503 itself, and a payload of the wrong shape 400."""
        if self.slack is None or self.slack.signing_secret is None:
            return JSONResponse(
                {
                    "error": "integration_disabled",
                    "message": "Slack is not configured: set integrations.slack.signing_secret in the config",
                },
                status_code=404,
            )
        secret = self.slack.signing_secret.reveal()
        if not secret:
            var = self.slack.signing_secret.env_var or "?"
            return JSONResponse(
                {"error": "not_configured", "message": f"Slack is not configured: {var} is not set in the intake"},
                status_code=503,
            )
        try:
            verify(secret, headers, body, self.replays)
        except Unverified as e:
            log.warning("slack request refused", reason=str(e))
            return JSONResponse({"error": "unauthorized", "message": str(e)}, status_code=401)
        if self.shared is not None:
            return await self._first_anywhere(headers)
        return None

    async def _first_anywhere(self, headers: Mapping[str, str]) -> JSONResponse | None:
        stamp = int(headers["x-slack-request-timestamp"])  # verified above
        expires = datetime.fromtimestamp(stamp + WINDOW, UTC)
        assert self.shared is not None
        try:
            first = await self.shared.first(headers["x-slack-signature"], expires)
        except Unavailable as e:
            log.warning("slack replay check across intakes cannot be made; this intake's stands", error=str(e))
            return None
        if not first:
            log.warning("slack request refused", reason="a replay, taken by another intake")
            message = "this request was already received (a replay)"
            return JSONResponse({"error": "unauthorized", "message": message}, status_code=401)
        return None


SLACK_ANSWERS = answers(400, 401, 404, 503)
"""What the Slack routes can answer besides 200: a payload of the wrong shape, an unsigned or stale request, Slack
not configured here, its secret not set (or an unexpected error)."""


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": "invalid_payload", "message": message}, status_code=400)


def slack_router(
    config: Config, incidents: Incidents, deadline: float = DEADLINE, windows: Windows | None = None
) -> APIRouter:
    """`POST /v1/slack/interactions` and `POST /v1/slack/commands`, for `app.include_router`."""
    shared = SharedMemo(incidents.client, incidents.task_queue, "slack-requests")
    gate = SlackGate(config.integrations.slack, shared)
    incidents = incidents.acting(Method.SLACK)  # whoever acts here is a Slack user, by a request Slack signed
    people, web, within = People(config), SlackWeb(config.integrations.slack), Deadline(deadline)
    forms = Originals(SharedMemo(incidents.client, incidents.task_queue, "slack-forms"))
    interactions = Interactions(incidents, people, web, within, forms)
    commands = Commands(config, incidents, people, windows)
    router = APIRouter(tags=["slack"])

    @router.post("/v1/slack/interactions", responses=SLACK_ANSWERS)
    async def slack_interactions(request: Request) -> Response:
        """Slack's interactivity request URL: button presses (`block_actions`) and modal submissions
        (`view_submission`), form-encoded with a `payload` JSON field, signed by Slack."""
        body = await request.body()  # the raw bytes are what Slack signed: read them before parsing
        if refused := await gate.check(request.headers, body):
            return refused
        try:
            payload = json.loads(parse_qs(body.decode(), keep_blank_values=True)["payload"][0])
            kind = payload["type"]
            if not isinstance(kind, str):
                raise TypeError(kind)
        except (KeyError, IndexError, ValueError, TypeError):
            return _bad("expected a form field `payload` holding Slack's interaction JSON")
        try:
            if kind == "block_actions":
                await interactions.block_actions(payload)
                return Response(status_code=200)
            if kind == "view_submission":
                answer = await interactions.view_submission(payload)
                return JSONResponse(answer) if answer else Response(status_code=200)
        except (AttributeError, KeyError, IndexError, TypeError, ValueError) as e:  # signed, but not Slack's shape
            log.warning("slack payload of an unexpected shape", kind=kind, error=f"{type(e).__name__}: {e}"[:200])
            return _bad(f"the {kind} payload does not have the shape Slack sends")
        return Response(status_code=200)  # view_closed, shortcuts: nothing to do

    @router.post("/v1/slack/commands", responses=SLACK_ANSWERS)
    async def slack_commands(request: Request) -> Response:
        """Slack's slash command request URL for `/baton`: form-encoded, signed by Slack. Answers are
        ephemeral: only the person who typed the command sees them."""
        body = await request.body()
        form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace"), keep_blank_values=True).items()}
        if form.get("ssl_check") == "1":
            return Response(status_code=200)  # Slack checking the certificate; nothing to do
        if refused := await gate.check(request.headers, body):
            return refused
        answer = await within.within(commands.command(form), lambda late: web.respond(form.get("response_url"), late))
        return JSONResponse(answer) if answer else Response(status_code=200)

    return router
