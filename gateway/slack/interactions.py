"""The page's buttons and the modals they open: Acknowledge and Approve decide at once; Resolve asks for a
summary and Deny for a reason first. The outcome replaces the buttons on the message it came from. Take lead
makes whoever presses it the incident's lead, and tells only them: the buttons stay.

Every button and form acts on the incident it was sent for (`Pinned`: its workflow id and incident id), never on
whatever incident that workflow id runs now: the id is the alert key's and is reused once an incident is resolved.
A button for a closed incident says so on its message and does nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import structlog

from gateway.client import Incidents, NotFound, Pinned, Refused, Unavailable
from gateway.slack.deadline import Deadline
from gateway.slack.messages import Origin, ephemeral, modal
from gateway.slack.originals import Originals
from gateway.slack.people import NotAPerson, People
from gateway.slack.web import SlackError, SlackWeb
from incident import slack_contract as wire
from incident.models import Actor, UpdateReply
from incident.slack_contract import BadButton, decode_button, esc

log = structlog.get_logger("baton.slack")

METADATA_MAX = 3000
UNAVAILABLE = "baton cannot reach Temporal right now; nothing was recorded. Try again in a moment."
_FIELD = {wire.RESOLVE_MODAL: "summary", wire.DENY_MODAL: "reason"}
"""The one text each modal asks for."""
OPEN_CHECK_S = 1.0
"""At most this long to see whether the incident is still open before a form opens (the trigger id lives 3 s);
when the answer is slow the form opens, and its submission is checked like any decision."""


@dataclass
class DecisionReply:
    """What the Slack user is told became of their decision: `done` and `refused` replace the buttons; `error`
    leaves them for another try."""

    kind: Literal["done", "refused", "error"]
    text: str


class Interactions:
    """`block_actions` (a button pressed) and `view_submission` (a modal submitted)."""

    def __init__(
        self,
        incidents: Incidents,
        people: People,
        web: SlackWeb,
        deadline: Deadline,
        originals: Originals | None = None,
    ):
        self.incidents, self.people, self.web, self.deadline = incidents, people, web, deadline
        self.originals = originals or Originals()

    # ---- buttons ---------------------------------------------------------------------------------------------

    async def block_actions(self, payload: dict[str, Any]) -> None:
        actions = payload.get("actions") or [{}]
        action = actions[0]
        action_id = action.get("action_id", "")
        if action_id not in wire.DECIDING:
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
            value = decode_button(action.get("value"))
        except BadButton as e:
            await self.web.respond(origin.response_url, ephemeral(str(e)))
            return
        user_id = (payload.get("user") or {}).get("id", "")
        try:
            person = self.people.person(user_id)
        except NotAPerson as e:
            await self.web.respond(origin.response_url, ephemeral(str(e)))
            return
        actor = Actor.human(person)
        pinned, approval_id = Pinned(value.workflow_id, value.incident_id), value.approval_id or ""
        if action_id in (wire.APPROVE, wire.DENY) and not approval_id:
            await self.web.respond(origin.response_url, ephemeral("this button names no approval"))
            return
        if action_id == wire.ACK:
            await self.deadline.within(self.decide(origin, self.acknowledge(pinned, actor)), None)
        elif action_id == wire.TAKE_LEAD:
            await self.deadline.within(self.tell(origin, self.take_lead(pinned, actor)), None)
        elif action_id == wire.APPROVE:
            await self.deadline.within(self.decide(origin, self.approve(pinned, actor, approval_id)), None)
        elif closed := await self.closed(pinned):
            await self.show(origin, closed)  # no form for a closed incident: its message says so
        else:
            meta = {"w": pinned.workflow_id, "i": pinned.incident_id, "a": approval_id}
            meta |= {"c": origin.channel, "t": origin.ts}
            await self.open_modal(action_id, payload.get("trigger_id", ""), meta, origin)

    async def closed(self, pinned: Pinned) -> DecisionReply | None:
        """The reply for a closed incident, or None when it is open (or the answer is slow: the form opens)."""
        try:
            wait = min(OPEN_CHECK_S, self.deadline.seconds)
            found = await asyncio.wait_for(self.incidents.find(pinned), timeout=wait)
        except NotFound as e:
            return DecisionReply("refused", f":warning: {esc(str(e))}")
        except (Unavailable, TimeoutError):
            return None
        except Exception:
            log.exception("slack open check failed")
            return None
        if found.open:
            return None
        return DecisionReply("refused", f":warning: {esc(pinned.incident_id)} is already resolved")

    async def decide(self, origin: Origin, attempt: Awaitable[DecisionReply]) -> None:
        """Run a decision and show its outcome on the message it came from (or tell the user why not)."""
        await self.show(origin, await attempt)

    async def tell(self, origin: Origin, attempt: Awaitable[DecisionReply]) -> None:
        """Run a request and tell only the user how it went: the page's buttons stay for the next decision."""
        await self.web.respond(origin.response_url, ephemeral((await attempt).text))

    async def show(self, origin: Origin, reply: DecisionReply) -> None:
        if reply.kind == "error":
            await self.web.respond(origin.response_url, ephemeral(reply.text))
        else:
            await self.web.update_message(origin, reply.text)

    async def reply(self, call: Awaitable[UpdateReply], done: Callable[[UpdateReply], str]) -> DecisionReply:
        try:
            result = await call
        except (NotFound, Refused) as e:
            return DecisionReply("refused", f":warning: {esc(str(e))}")
        except Unavailable:
            return DecisionReply("error", UNAVAILABLE)
        except Exception:
            log.exception("slack decision failed")
            return DecisionReply("error", "something went wrong in baton; the decision may not be recorded. Try again.")
        return DecisionReply("done", done(result))

    @staticmethod
    def _at() -> str:
        return f"{datetime.now(UTC):%H:%M} UTC"

    def _by(self, actor: Actor) -> str:
        return self.people.display(str(actor))

    async def acknowledge(self, ref: Pinned, actor: Actor) -> DecisionReply:
        def done(result: UpdateReply) -> str:
            already = "already acknowledged by "
            if result.message.startswith(already):
                return f"Already acknowledged by {self.people.display(result.message.removeprefix(already))}"
            return f":white_check_mark: Acknowledged by {self._by(actor)} at {self._at()}"

        return await self.reply(self.incidents.acknowledge(ref, actor), done)

    async def take_lead(self, ref: Pinned, actor: Actor) -> DecisionReply:
        def done(result: UpdateReply) -> str:
            if not result.ok:
                return f":warning: {esc(result.message)}"
            return f":large_blue_circle: You lead {esc(ref.incident_id)} ({esc(result.message)})"

        return await self.reply(self.incidents.set_role(ref, actor, "lead"), done)

    async def approve(self, ref: Pinned, actor: Actor, approval_id: str) -> DecisionReply:
        return await self.reply(
            self.incidents.approve(ref, actor, approval_id),
            lambda _: f":white_check_mark: Approved by {self._by(actor)} at {self._at()}",
        )

    async def deny(self, ref: Pinned, actor: Actor, approval_id: str, reason: str) -> DecisionReply:
        return await self.reply(
            self.incidents.deny(ref, actor, approval_id, reason),
            lambda _: f":no_entry: Denied by {self._by(actor)} at {self._at()}: {esc(reason)}",
        )

    async def resolve(self, ref: Pinned, actor: Actor, summary: str) -> DecisionReply:
        def done(result: UpdateReply) -> str:
            if result.approval_id:  # two-person rule: it became an approval for someone else
                return f":hourglass: {esc(result.message)}"
            return f":white_check_mark: Resolved by {self._by(actor)} at {self._at()}" + (
                f": {esc(summary)}" if summary else ""
            )

        return await self.reply(self.incidents.resolve(ref, actor, summary), done)

    # ---- modals ----------------------------------------------------------------------------------------------

    async def open_modal(self, action_id: str, trigger_id: str, meta: dict[str, str], origin: Origin) -> None:
        """Resolve asks for a summary, Deny for a reason. The trigger id lives three seconds: open it now."""
        if len(json.dumps(meta)) + len(origin.response_url) < METADATA_MAX - 20:
            meta["r"] = origin.response_url
        remembering = asyncio.create_task(self.originals.remember(origin))  # alongside: the trigger id lives 3 s
        private = json.dumps(meta, separators=(",", ":"))
        iid = meta["i"]
        if action_id == wire.RESOLVE:
            intro, field = f"Declare *{esc(iid)}* resolved: escalation stops.", _FIELD[wire.RESOLVE_MODAL]
            view = modal(wire.RESOLVE_MODAL, f"Resolve {iid}", "Resolve", private, intro, field, "What fixed it?", True)
        else:
            intro, label = f"Deny *{esc(meta['a'])}* on *{esc(iid)}*.", "Why? The requester and the timeline see it."
            view = modal(
                wire.DENY_MODAL, f"Deny {meta['a']}", "Deny", private, intro, _FIELD[wire.DENY_MODAL], label, False
            )
        try:
            await self.web.api("views.open", {"trigger_id": trigger_id, "view": view}, timeout=self.deadline.seconds)
        except SlackError as e:
            await self.web.respond(origin.response_url, ephemeral(f"cannot open the form: {e}"))
        finally:
            await remembering

    async def view_submission(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        view = payload.get("view") or {}
        callback = view.get("callback_id", "")
        field_id = _FIELD.get(callback)
        if field_id is None:
            return None
        values = (view.get("state") or {}).get("values") or {}
        text = str(((values.get(field_id) or {}).get(field_id) or {}).get("value") or "").strip()
        try:
            meta = json.loads(view.get("private_metadata") or "")
            pinned = Pinned(str(meta["w"]), str(meta["i"]))
        except (ValueError, KeyError, TypeError):
            return {"response_action": "errors", "errors": {field_id: "this form lost its incident; start again"}}
        try:
            actor = Actor.human(self.people.person((payload.get("user") or {}).get("id", "")))
        except NotAPerson as e:
            return {"response_action": "errors", "errors": {field_id: str(e)}}
        if callback == wire.DENY_MODAL and not text:
            return {
                "response_action": "errors",
                "errors": {"reason": "a denial needs a reason: the requester and the timeline see it"},
            }
        channel, ts = str(meta.get("c") or ""), str(meta.get("t") or "")
        origin = await self.originals.take(channel, ts) or Origin(channel=channel, ts=ts)
        origin.response_url = str(meta.get("r") or origin.response_url)
        attempt = (
            self.resolve(pinned, actor, text)
            if callback == wire.RESOLVE_MODAL
            else self.deny(pinned, actor, str(meta.get("a") or ""), text)
        )
        await self.deadline.within(self.decide(origin, attempt), None)
        return None  # an empty 200 closes the modal; the outcome shows on the message
