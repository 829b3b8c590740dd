"""The Slack app: the page's buttons and modals (`POST /v1/slack/interactions`) and the `/baton` slash command
(`POST /v1/slack/commands`).

Every request is verified first (`gateway.slack.signing`: Slack's signature, five-minute window, no replays).
Slack users act as the person whose `slack:` member id they are; anyone
else may read (`status`, `oncall`) but not decide.

Slack wants an answer within three seconds. The façade call gets `deadline` seconds; if it takes longer the
request is acknowledged and the work finishes in the background, which then tells the user through the message
or the `response_url`.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs

import httpx
import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from gateway.client import Incidents, NotFound, Refused, Unavailable
from gateway.oncall import OnCallError, views
from gateway.render import ago
from gateway.slack.signing import ReplayCache, Unverified, verify
from incident.config import Config, SlackIntegration
from incident.ids import normalise_incident_id
from incident.models import ActionResult, Actor, Status
from incident.state import IncidentState

log = structlog.get_logger("baton.slack")
T = TypeVar("T")

DEADLINE = 2.5
"""Seconds a request waits for the façade before it is acknowledged and finished in the background (Slack gives
up after 3)."""
ORIGINALS_KEPT = 1_000
"""Original messages remembered while a modal is open, to put back with the outcome in place of the buttons."""
SLACK_TIMEOUT = 5.0
DECIDING = ("baton_ack", "baton_approve", "baton_resolve", "baton_deny")
OUR_ACTION_BLOCKS = ("baton_actions", "baton_approval")
OUTCOME_BLOCK = "baton_outcome"
METADATA_MAX = 3000
UNAVAILABLE = "baton cannot reach Temporal right now; nothing was recorded. Try again in a moment."


# ---- people --------------------------------------------------------------------------------------------------


class NotAPerson(Exception):
    """A Slack user baton cannot name: they may read, not decide."""


def members(config: Config) -> dict[str, list[str]]:
    """Slack member id -> the people in the config with that `slack:`."""
    out: dict[str, list[str]] = {}
    for name, person in config.people.items():
        if person.slack:
            out.setdefault(person.slack.strip(), []).append(name)
    return out


# ---- mrkdwn --------------------------------------------------------------------------------------------------


def esc(s: str) -> str:
    """Slack's mrkdwn escaping: only &, < and > are control characters."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _ephemeral(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


# ---- where an answer goes ------------------------------------------------------------------------------------


@dataclass
class Origin:
    """The message a button was pressed on, and how to reach the user who pressed it."""

    channel: str = ""
    ts: str = ""
    response_url: str = ""
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.ts}"


@dataclass
class Outcome:
    """What became of a decision: `done` and `refused` replace the buttons; `error` leaves them for another try."""

    kind: Literal["done", "refused", "error"]
    text: str


def without_buttons(blocks: list[dict[str, Any]], line: str) -> list[dict[str, Any]]:
    """The message's blocks with our buttons (and any earlier outcome) replaced by a context line. Link buttons
    such as "Open incident" stay."""
    out: list[dict[str, Any]] = []
    for block in blocks:
        if block.get("block_id") == OUTCOME_BLOCK:
            continue
        if block.get("type") == "actions" and block.get("block_id") in OUR_ACTION_BLOCKS:
            links = [e for e in block.get("elements", []) if e.get("url")]
            if links:
                out.append({**block, "elements": links})
            continue
        out.append(block)
    out.append({"type": "context", "block_id": OUTCOME_BLOCK, "elements": [{"type": "mrkdwn", "text": line}]})
    return out


# ---- the app -------------------------------------------------------------------------------------------------


class SlackApp:
    """Verification, people, interactions and commands; `router()` mounts the two endpoints."""

    def __init__(self, config: Config, incidents: Incidents, deadline: float = DEADLINE):
        self.config, self.incidents, self.deadline = config, incidents, deadline
        self.slack: SlackIntegration | None = config.integrations.slack
        self.replays = ReplayCache()
        self.members = members(config)
        self._originals: OrderedDict[str, Origin] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()

    # ---- the HTTP surface -------------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        router = APIRouter(tags=["slack"])

        @router.post("/v1/slack/interactions")
        async def slack_interactions(request: Request) -> Response:
            """Slack's interactivity request URL: button presses (`block_actions`) and modal submissions
            (`view_submission`), form-encoded with a `payload` JSON field, signed by Slack."""
            body = await request.body()  # the raw bytes are what Slack signed: read them before parsing
            if refused := self.check(request.headers, body):
                return refused
            try:
                payload = json.loads(parse_qs(body.decode(), keep_blank_values=True)["payload"][0])
                kind = payload["type"]
            except (KeyError, IndexError, ValueError, TypeError):
                return _bad("expected a form field `payload` holding Slack's interaction JSON")
            if kind == "block_actions":
                await self.block_actions(payload)
                return Response(status_code=200)
            if kind == "view_submission":
                answer = await self.view_submission(payload)
                return JSONResponse(answer) if answer else Response(status_code=200)
            return Response(status_code=200)  # view_closed, shortcuts: nothing to do

        @router.post("/v1/slack/commands")
        async def slack_commands(request: Request) -> Response:
            """Slack's slash command request URL for `/baton`: form-encoded, signed by Slack. Answers are
            ephemeral: only the person who typed the command sees them."""
            body = await request.body()
            form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace"), keep_blank_values=True).items()}
            if form.get("ssl_check") == "1":
                return Response(status_code=200)  # Slack checking the certificate; nothing to do
            if refused := self.check(request.headers, body):
                return refused
            answer = await self.within(self.command(form), lambda late: self.respond(form.get("response_url"), late))
            return JSONResponse(answer) if answer else Response(status_code=200)

        return router

    def check(self, headers: Mapping[str, str], body: bytes) -> JSONResponse | None:
        """None when the request is Slack's; else the answer: 404/503 when Slack is not set up, 401 when not."""
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
        return None

    # ---- answering within Slack's three seconds --------------------------------------------------------------

    async def within(self, work: Coroutine[Any, Any, T], late: Callable[[T], Awaitable[None]] | None) -> T | None:
        """`work`'s result if it is done within the deadline; else None, and `late` gets the result when it is."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=self.deadline)
        if task in done:
            return task.result()

        async def finish() -> None:
            try:
                result = await task
                if late is not None:
                    await late(result)
            except Exception:
                log.exception("slack work failed after the answer was sent")

        later = asyncio.create_task(finish())
        self._tasks.add(later)  # keep a reference until done: the loop holds only weak ones
        later.add_done_callback(self._tasks.discard)
        return None

    # ---- people ----------------------------------------------------------------------------------------------

    def person(self, user_id: str) -> str:
        names = self.members.get(user_id.strip(), []) if user_id else []
        if len(names) == 1:
            return names[0]
        if not names:
            raise NotAPerson(
                f"your Slack user {user_id or '(unknown)'} is not a person in baton's config; "
                f"ask an admin to add `slack: {user_id}`"
            )
        raise NotAPerson(
            f"your Slack user {user_id} is the `slack:` of {', '.join(names)} in baton's config; "
            "ask an admin to keep it on one person"
        )

    def display(self, actor: str | None) -> str:
        """`human:alice` -> `Alice` (the person's name in the config), else the actor as written."""
        if not actor:
            return "someone"
        kind, _, name = actor.partition(":")
        person = self.config.people.get(name) if kind == "human" else None
        return (person.name or name) if person else actor

    # ---- buttons ---------------------------------------------------------------------------------------------

    async def block_actions(self, payload: dict[str, Any]) -> None:
        actions = payload.get("actions") or [{}]
        action = actions[0]
        action_id = action.get("action_id", "")
        if action_id not in DECIDING:
            return  # "Open incident" is a link: Slack tells us about the click, there is nothing to do
        container, message = payload.get("container") or {}, payload.get("message") or {}
        origin = Origin(
            channel=container.get("channel_id") or (payload.get("channel") or {}).get("id", ""),
            ts=container.get("message_ts") or message.get("ts", ""),
            response_url=payload.get("response_url", ""),
            text=message.get("text", ""),
            blocks=list(message.get("blocks") or []),
        )
        try:
            value = json.loads(action.get("value") or "")
            workflow_id = str(value["workflow_id"])
        except (ValueError, KeyError, TypeError):
            await self.respond(origin.response_url, _ephemeral("this button carries no incident; open it in baton"))
            return
        user_id = (payload.get("user") or {}).get("id", "")
        try:
            person = self.person(user_id)
        except NotAPerson as e:
            await self.respond(origin.response_url, _ephemeral(str(e)))
            return
        actor = Actor.human(person)
        approval_id = str(value.get("approval_id") or "")
        incident_id = str(value.get("incident_id") or workflow_id)
        if action_id in ("baton_approve", "baton_deny") and not approval_id:
            await self.respond(origin.response_url, _ephemeral("this button names no approval"))
            return
        if action_id == "baton_ack":
            await self.within(self.decide(origin, self.acknowledge(workflow_id, actor)), None)
        elif action_id == "baton_approve":
            await self.within(self.decide(origin, self.approve(workflow_id, actor, approval_id)), None)
        else:
            meta = {"w": workflow_id, "i": incident_id, "a": approval_id, "c": origin.channel, "t": origin.ts}
            await self.open_modal(action_id, payload.get("trigger_id", ""), meta, origin)

    async def decide(self, origin: Origin, attempt: Awaitable[Outcome]) -> None:
        """Run a decision and show its outcome on the message it came from (or tell the user why not)."""
        outcome = await attempt
        if outcome.kind == "error":
            await self.respond(origin.response_url, _ephemeral(outcome.text))
        else:
            await self.update_message(origin, outcome.text)

    async def outcome(self, call: Awaitable[ActionResult], done: Callable[[ActionResult], str]) -> Outcome:
        try:
            result = await call
        except (NotFound, Refused) as e:
            return Outcome("refused", f":warning: {esc(str(e))}")
        except Unavailable:
            return Outcome("error", UNAVAILABLE)
        except Exception:
            log.exception("slack decision failed")
            return Outcome("error", "something went wrong in baton; the decision may not be recorded. Try again.")
        return Outcome("done", done(result))

    @staticmethod
    def _at() -> str:
        return f"{datetime.now(UTC):%H:%M} UTC"

    async def acknowledge(self, ref: str, actor: Actor) -> Outcome:
        def done(result: ActionResult) -> str:
            already = "already acknowledged by "
            if result.message.startswith(already):
                return f"Already acknowledged by {self.display(result.message.removeprefix(already))}"
            return f":white_check_mark: Acknowledged by {self.display(str(actor))} at {self._at()}"

        return await self.outcome(self.incidents.acknowledge(ref, actor), done)

    async def approve(self, ref: str, actor: Actor, approval_id: str) -> Outcome:
        return await self.outcome(
            self.incidents.approve(ref, actor, approval_id),
            lambda _: f":white_check_mark: Approved by {self.display(str(actor))} at {self._at()}",
        )

    async def deny(self, ref: str, actor: Actor, approval_id: str, reason: str) -> Outcome:
        return await self.outcome(
            self.incidents.deny(ref, actor, approval_id, reason),
            lambda _: f":no_entry: Denied by {self.display(str(actor))} at {self._at()}: {esc(reason)}",
        )

    async def resolve(self, ref: str, actor: Actor, summary: str) -> Outcome:
        def done(result: ActionResult) -> str:
            if result.approval_id:  # two-person rule: it became an approval for someone else
                return f":hourglass: {esc(result.message)}"
            return f":white_check_mark: Resolved by {self.display(str(actor))} at {self._at()}" + (
                f": {esc(summary)}" if summary else ""
            )

        return await self.outcome(self.incidents.resolve(ref, actor, summary), done)

    # ---- modals ----------------------------------------------------------------------------------------------

    async def open_modal(self, action_id: str, trigger_id: str, meta: dict[str, str], origin: Origin) -> None:
        """Resolve asks for a summary, Deny for a reason. The trigger id lives three seconds: open it now."""
        if len(json.dumps(meta)) + len(origin.response_url) < METADATA_MAX - 20:
            meta["r"] = origin.response_url
        self._remember(origin)
        private = json.dumps(meta, separators=(",", ":"))
        iid = meta["i"]
        if action_id == "baton_resolve":
            intro, field = f"Declare *{esc(iid)}* resolved: escalation stops.", "summary"
            view = _modal("baton_resolve", f"Resolve {iid}", "Resolve", private, intro, field, "What fixed it?", True)
        else:
            intro, label = f"Deny *{esc(meta['a'])}* on *{esc(iid)}*.", "Why? The requester and the timeline see it."
            view = _modal("baton_deny", f"Deny {meta['a']}", "Deny", private, intro, "reason", label, False)
        try:
            await self.api("views.open", {"trigger_id": trigger_id, "view": view}, timeout=self.deadline)
        except SlackError as e:
            await self.respond(origin.response_url, _ephemeral(f"cannot open the form: {e}"))

    def _remember(self, origin: Origin) -> None:
        self._originals[origin.key] = origin
        self._originals.move_to_end(origin.key)
        while len(self._originals) > ORIGINALS_KEPT:
            self._originals.popitem(last=False)

    async def view_submission(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        view = payload.get("view") or {}
        callback = view.get("callback_id", "")
        field_id = {"baton_resolve": "summary", "baton_deny": "reason"}.get(callback)
        if field_id is None:
            return None
        values = (view.get("state") or {}).get("values") or {}
        text = str(((values.get(field_id) or {}).get(field_id) or {}).get("value") or "").strip()
        try:
            meta = json.loads(view.get("private_metadata") or "")
            workflow_id = str(meta["w"])
        except (ValueError, KeyError, TypeError):
            return {"response_action": "errors", "errors": {field_id: "this form lost its incident; start again"}}
        try:
            actor = Actor.human(self.person((payload.get("user") or {}).get("id", "")))
        except NotAPerson as e:
            return {"response_action": "errors", "errors": {field_id: str(e)}}
        if callback == "baton_deny" and not text:
            return {
                "response_action": "errors",
                "errors": {"reason": "a denial needs a reason: the requester and the timeline see it"},
            }
        channel, ts = str(meta.get("c") or ""), str(meta.get("t") or "")
        origin = self._originals.pop(f"{channel}:{ts}", None) or Origin(channel=channel, ts=ts)
        origin.response_url = str(meta.get("r") or origin.response_url)
        attempt = (
            self.resolve(workflow_id, actor, text)
            if callback == "baton_resolve"
            else self.deny(workflow_id, actor, str(meta.get("a") or ""), text)
        )
        await self.within(self.decide(origin, attempt), None)
        return None  # an empty 200 closes the modal; the outcome shows on the message

    # ---- talking to Slack ------------------------------------------------------------------------------------

    async def update_message(self, origin: Origin, line: str) -> None:
        """Replace the message's buttons with the outcome.

        chat.update with the message's channel and ts first: the page is the bot's own message, so the bot token
        (chat:write, which paging needs anyway) may update it at any time and Slack answers `ok` or an error. The
        payload's `response_url` is the fallback (`replace_original: true`): it needs no token, but it works only
        five times within 30 minutes of the click, and a modal can stay open longer than that.

        Both replace the whole message, so the original blocks are sent back without the buttons. A modal's
        submission does not carry the message: it was remembered when the modal opened; an intake process that
        did not see that (another replica, a restart) puts back only the outcome line.
        """
        blocks = without_buttons(origin.blocks, line)
        body = {"text": origin.text or line, "blocks": blocks}
        if origin.channel and origin.ts:
            try:
                await self.api("chat.update", {"channel": origin.channel, "ts": origin.ts, **body})
                return
            except SlackError as e:
                log.warning("chat.update failed; trying response_url", error=str(e))
        await self.respond(origin.response_url, {"replace_original": True, **body})

    async def api(self, method: str, body: dict[str, Any], timeout: float = SLACK_TIMEOUT) -> dict[str, Any]:
        """A Slack Web API call with the bot token; raises SlackError unless Slack answers `ok`."""
        assert self.slack is not None
        token = self.slack.bot_token.reveal()
        if not token:
            raise SlackError(f"the Slack bot token is not set ({self.slack.bot_token!r})")
        try:
            async with httpx.AsyncClient(timeout=timeout) as http:
                resp = await http.post(
                    f"{self.slack.api_url.rstrip('/')}/{method}",
                    content=json.dumps(body).encode(),
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"},
                )
            answer = resp.json()
        except (httpx.HTTPError, ValueError) as e:
            raise SlackError(f"Slack {method} failed: {type(e).__name__}") from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            error = answer.get("error") if isinstance(answer, dict) else None
            raise SlackError(f"Slack {method} answered {error or f'HTTP {resp.status_code}'}")
        return answer

    async def respond(self, response_url: str | None, body: dict[str, Any]) -> None:
        """Post to an interaction's or a command's `response_url` (no token: the URL is the credential)."""
        if not response_url:
            log.warning("no response_url to answer on", text=body.get("text"))
            return
        try:
            async with httpx.AsyncClient(timeout=SLACK_TIMEOUT) as http:
                resp = await http.post(response_url, json=body)
            if resp.status_code >= 400:
                log.warning("response_url refused the answer", status=resp.status_code)
        except httpx.HTTPError as e:
            log.warning("response_url unreachable", error=type(e).__name__)

    # ---- /baton --------------------------------------------------------------------------------------------

    def usage(self, command: str) -> str:
        c = command or "/baton"
        return "\n".join(
            [
                f"*{c}* — incidents from Slack",
                f"• `{c} status` — open incidents",
                f"• `{c} status INC-7K2Q9M` — one incident",
                f"• `{c} ack INC-7K2Q9M` — acknowledge: escalation stops",
                f"• `{c} note INC-7K2Q9M text…` — add a note to the timeline",
                f"• `{c} resolve INC-7K2Q9M summary…` — declare it resolved",
                f"• `{c} oncall [schedule]` — who is on call, and who is next",
                f"• `{c} help` — this text",
            ]
        )

    async def command(self, form: dict[str, str]) -> dict[str, Any]:
        """One `/baton …` as an ephemeral answer."""
        try:
            return _ephemeral(await self._command(form))
        except (NotFound, Refused, NotAPerson, OnCallError) as e:
            return _ephemeral(esc(str(e)))
        except Unavailable:
            return _ephemeral(UNAVAILABLE)
        except Exception:
            log.exception("slash command failed", text=form.get("text"))
            return _ephemeral("something went wrong in baton; nothing may have been recorded. Try again.")

    async def _command(self, form: dict[str, str]) -> str:
        command = form.get("command", "/baton")
        sub, _, rest = form.get("text", "").strip().partition(" ")
        sub, rest = sub.lower(), rest.strip()
        match sub:
            case "" | "help":
                return self.usage(command)
            case "status":
                return await self.status(rest.split()[0] if rest else None)
            case "oncall":
                return self.oncall(rest.split()[0] if rest else None)
            case "ack" | "note" | "resolve":
                ref, _, text = rest.partition(" ")
                if not ref:
                    return f"which incident? `{command} {sub} INC-7K2Q9M`"
                actor = Actor.human(self.person(form.get("user_id", "")))
                text = text.strip()
                if sub == "ack":
                    result = await self.incidents.acknowledge(ref, actor)
                elif sub == "note":
                    if not text:
                        return f"a note needs text: `{command} note {esc(ref)} what you did or saw`"
                    await self.incidents.note(ref, actor, text)
                    return f"note added to {esc(normalise_incident_id(ref) or ref)}"
                else:
                    result = await self.incidents.resolve(ref, actor, text)
                return esc(result.message)
        return f"unknown subcommand `{esc(sub)}`.\n" + self.usage(command)

    async def status(self, ref: str | None) -> str:
        if ref:
            return self.incident_text(await self.incidents.state(ref))
        triggered, acknowledged = await asyncio.gather(
            self.incidents.list(status=Status.TRIGGERED, limit=20),
            self.incidents.list(status=Status.ACKNOWLEDGED, limit=20),
        )
        rows = sorted([*triggered, *acknowledged], key=lambda r: r.opened_at, reverse=True)
        if not rows:
            return "no open incidents"
        lines = [f"*Open incidents* ({len(rows)}{'+' if len(rows) >= 20 else ''})"]
        lines += [
            f"• *{esc(r.incident_id)}* `{r.status}` {esc(r.severity)} {esc(r.service)} — opened {ago(r.opened_at)}"
            for r in rows[:20]
        ]
        return "\n".join(lines)

    def incident_text(self, st: IncidentState) -> str:
        lines = [
            f"*{esc(st.incident_id)}* · {esc(st.severity_label)} · {esc(st.service)} · *{st.status.value}*",
            esc(st.title),
            f"Opened {st.opened_at:%Y-%m-%d %H:%M} UTC ({ago(st.opened_at)}) · alerts: {st.alert_count}"
            f" · paged: {esc(', '.join(st.paged) or 'nobody yet')}",
        ]
        if st.acknowledged_by and st.status is Status.ACKNOWLEDGED:
            lines.append(f"Acknowledged by {esc(self.display(st.acknowledged_by))}")
        if st.resolved_by:
            why = f": {esc(st.resolution)}" if st.resolution else ""
            lines.append(f"Resolved by {esc(self.display(st.resolved_by))}{why}")
        for a in st.pending_approvals:
            lines.append(
                f"Approval *{a.id}* pending: {esc(a.describe())} — {esc(', '.join(a.approvers))} "
                f"may decide by {a.deadline:%H:%M} UTC"
            )
        for e in st.timeline[-3:]:
            lines.append(f"> {e.at:%H:%M} {esc(e.actor)}: {esc(_cut(e.text, 200))}")
        return "\n".join(lines)

    def oncall(self, schedule: str | None) -> str:
        found = views(self.config, schedule, None)
        if not found:
            return "no schedules in the config"
        lines = []
        for v in found:
            who = f"*{esc(self.display('human:' + v.on_call))}*" if v.on_call else "_nobody_"
            line = f"*{esc(v.schedule)}*: {who} on call now"
            if v.next:
                h = v.next[0]
                nxt = esc(self.display("human:" + h.person)) if h.person else "nobody"
                line += f"; next: {nxt} from {h.start:%a %Y-%m-%d %H:%M} {esc(v.timezone)}"
            lines.append(line)
        return "\n".join(lines)


def _modal(
    callback: str, title: str, submit: str, private: str, intro: str, field: str, label: str, optional: bool
) -> dict[str, Any]:
    """A modal asking for one text (the resolve summary, the denial's reason); the submission finds it by `field`."""
    return {
        "type": "modal",
        "callback_id": callback,
        "title": _plain(_cut(title, 24)),
        "submit": _plain(submit),
        "close": _plain("Cancel"),
        "private_metadata": private,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": intro}},
            {
                "type": "input",
                "block_id": field,
                "optional": optional,
                "label": _plain(label),
                "element": {"type": "plain_text_input", "action_id": field, "multiline": True, "max_length": 2000},
            },
        ],
    }


class SlackError(Exception):
    """Slack's Web API said no, or could not be reached."""


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": "invalid_payload", "message": message}, status_code=400)


def slack_router(config: Config, incidents: Incidents, deadline: float = DEADLINE) -> APIRouter:
    """`POST /v1/slack/interactions` and `POST /v1/slack/commands`, for `app.include_router`."""
    return SlackApp(config, incidents, deadline).router()
