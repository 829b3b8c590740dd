"""The `/baton` slash command: status, ack, lead, role, note, resolve, oncall, maintenance and help, answered
ephemerally."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import structlog

from gateway.client import Incidents, NotFound, Pinned, Refused, Unavailable
from gateway.maintenance import BadWindow, Windows, plan
from gateway.oncall import OnCallError, views
from gateway.render import ago
from gateway.slack.interactions import UNAVAILABLE
from gateway.slack.messages import cut, ephemeral
from gateway.slack.people import NotAPerson, People
from incident.config import Config
from incident.coordination import LEAD
from incident.ids import normalise_incident_id
from incident.maintenance import MAX_MESSAGE, WINDOW_ID
from incident.models import Actor, Status
from incident.slack_contract import esc
from incident.state import IncidentState

log = structlog.get_logger("baton.slack")
_MENTION = re.compile(r"^<@([A-Z0-9]+)(?:\|[^>]*)?>$")
"""A user mention in a slash command's text, as Slack escapes it: `<@U123ABC|alice>`."""
TITLE_INDENT = "    "
QUOTE_INDENT = ">          "
"""Where a timeline entry's continuation lines start: in its quote, under its text, never where an entry starts."""


class Commands:
    """One `/baton …` at a time, as the person the Slack user is (reading needs no person)."""

    def __init__(self, config: Config, incidents: Incidents, people: People, windows: Windows | None = None):
        self.config, self.incidents, self.people = config, incidents, people
        self._windows = windows

    @property
    def windows(self) -> Windows:
        """The intake's (whose cache a window started here reaches at once), else one of our own."""
        if self._windows is None:
            self._windows = Windows(self.incidents.client, self.incidents.task_queue)
        return self._windows

    def usage(self, command: str) -> str:
        c = command or "/baton"
        return "\n".join(
            [
                f"*{c}* — incidents from Slack",
                f"• `{c} status` — open incidents",
                f"• `{c} status INC-7K2Q9M` — one incident",
                f"• `{c} ack INC-7K2Q9M` — acknowledge: escalation stops",
                f"• `{c} lead INC-7K2Q9M [@person]` — take the lead, or hand it to someone",
                f"• `{c} role INC-7K2Q9M comms [@person]` — take a role, or hand it to someone",
                f"• `{c} note INC-7K2Q9M text…` — add a note to the timeline (in its channel: `{c} note text…`)",
                f"• `{c} resolve INC-7K2Q9M summary…` — declare it resolved",
                f"• `{c} oncall [schedule]` — who is on call, and who is next",
                f"• `{c} maintenance checkout 2h db migration` — a maintenance window: its alerts page no one",
                f"• `{c} maintenance` — the windows; `{c} maintenance end MW-4K2Q9Z` — end one now",
                f"• `{c} help` — this text",
            ]
        )

    async def command(self, form: dict[str, str]) -> dict[str, Any]:
        """One `/baton …` as an ephemeral answer."""
        try:
            return ephemeral(await self._command(form))
        except (NotFound, Refused, NotAPerson, OnCallError) as e:
            return ephemeral(esc(str(e)))
        except Unavailable:
            return ephemeral(UNAVAILABLE)
        except Exception:
            log.exception("slash command failed", text=form.get("text"))
            return ephemeral("something went wrong in baton; nothing may have been recorded. Try again.")

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
            case "maintenance":
                return await self.maintenance(command, rest, form.get("user_id", ""))
            case "lead" | "role":
                return await self.role(command, sub, rest, form.get("user_id", ""))
            case "note" if not rest.lower().startswith("inc-") and (here := await self._here(form)):
                if not rest:
                    return f"a note needs text: `{command} note what you did or saw`"
                actor = Actor.human(self.people.person(form.get("user_id", "")))
                await self.incidents.note(here, actor, rest)
                return f"note added to {esc(here.incident_id)}"
            case "ack" | "note" | "resolve":
                ref, _, text = rest.partition(" ")
                if not ref:
                    return f"which incident? `{command} {sub} INC-7K2Q9M`"
                actor = Actor.human(self.people.person(form.get("user_id", "")))
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

    async def maintenance(self, command: str, rest: str, user_id: str) -> str:
        """`maintenance` lists; `maintenance end ID` ends one; `maintenance TARGET DURATION [message]` opens one."""
        words = rest.split(maxsplit=2)
        if not words:
            rows = [w for w in await self.windows.all() if w.status != "ended"]
            if not rows:
                return f"no open maintenance windows. Open one: `{command} maintenance checkout 2h why`"
            return "\n".join(
                f"• *{w.id}* {esc(w.target)} — {w.status}, until {w.ends_at:%Y-%m-%d %H:%M} UTC, "
                f"{w.suppressed_total} suppressed" + (f": {esc(w.message)}" if w.message else "")
                for w in rows
            )
        actor = Actor.human(self.people.person(user_id))
        if words[0].lower() == "end":
            if len(words) < 2 or not WINDOW_ID.match(words[1].upper()):
                return f"which window? `{command} maintenance end MW-4K2Q9Z`"
            view = await self.windows.end(words[1].upper(), actor)
            return f"{view.id} ended; {view.still_firing} alert key(s) still firing page as usual"
        if len(words) < 2:
            return f"how long? `{command} maintenance {esc(words[0])} 2h why`"
        message = words[2] if len(words) > 2 else ""
        if len(message) > MAX_MESSAGE:
            return f"the message is {len(message)} characters; at most {MAX_MESSAGE}"
        try:
            matcher, duration, _ = plan(self.config, words[0], words[1])
        except BadWindow as e:
            return esc(str(e))
        view = await self.windows.start(matcher, duration, message, actor)
        held = f"; holds {len(view.held)} open incident(s)" if view.held else ""
        return (
            f"{view.id} open for {esc(view.target)} until {view.ends_at:%Y-%m-%d %H:%M} UTC{held}. "
            f"End it early: `{command} maintenance end {view.id}`"
        )

    async def role(self, command: str, sub: str, rest: str, user_id: str) -> str:
        """`lead INC [@person|name]`, `role INC ROLE [@person|name]`: as the person the Slack user is."""
        words = rest.split()
        if sub == "lead":
            words.insert(1 if words else 0, LEAD)
        if len(words) < 2 or len(words) > 3:
            shape = "INC-7K2Q9M [@person]" if sub == "lead" else "INC-7K2Q9M comms [@person]"
            what = "which incident" if sub == "lead" else "which incident and role"
            return f"{what}, and whom to hand it to? `{command} {sub} {shape}`"
        ref, role = words[0], words[1].lower()
        actor = Actor.human(self.people.person(user_id))
        person = self.mentioned(words[2]) if len(words) == 3 else None
        result = await self.incidents.set_role(ref, actor, role, person)
        return esc(result.message)

    def mentioned(self, word: str) -> str:
        """A person as a slash command names them: `<@U123|alice>` (a mention Slack escaped), `@alice` or
        `alice` (as the config spells them)."""
        if mention := _MENTION.match(word):
            return self.people.person(mention.group(1))
        return word.removeprefix("@").lower()

    async def _here(self, form: dict[str, str]) -> Pinned | None:
        """The incident whose channel the command was typed in (`IncidentChannel`, so any gateway replica finds
        it), or None: the command names its incident."""
        try:
            found = await self.incidents.in_channel(form.get("channel_id", ""))
        except NotFound:
            return None
        return Pinned(found.workflow_id, found.incident_id or "")

    async def status(self, ref: str | None) -> str:
        if ref:
            return self.incident_text(await self.incidents.state(ref))
        triggered, acknowledged = await asyncio.gather(
            self.incidents.search(status=Status.TRIGGERED, limit=20),
            self.incidents.search(status=Status.ACKNOWLEDGED, limit=20),
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
        display = self.people.display
        lines = [
            f"*{esc(st.incident_id)}* · {esc(st.severity_label)} · {esc(st.service)} · *{st.status.value}*",
            esc(st.title, TITLE_INDENT),
            f"Opened {st.opened_at:%Y-%m-%d %H:%M} UTC ({ago(st.opened_at)}) · alerts: {st.alert_count}"
            f" · paged: {esc(', '.join(st.paged) or 'nobody yet')}",
        ]
        if st.acknowledged_by and st.status is Status.ACKNOWLEDGED:
            lines.append(f"Acknowledged by {esc(display(st.acknowledged_by))}")
        if st.resolved_by:
            why = f": {esc(st.resolution, TITLE_INDENT)}" if st.resolution else ""
            lines.append(f"Resolved by {esc(display(st.resolved_by))}{why}")
        for a in st.pending_approvals:
            lines.append(
                f"Approval *{a.id}* pending: {esc(a.describe())} — {esc(', '.join(a.approvers))} "
                f"may decide by {a.deadline:%H:%M} UTC"
            )
        for e in st.timeline[-3:]:
            lines.append(f"> {e.at:%H:%M} {esc(e.actor)}: {esc(cut(e.text, 200), QUOTE_INDENT)}")
        return "\n".join(lines)

    def oncall(self, schedule: str | None) -> str:
        found = views(self.config, schedule, None)
        if not found:
            return "no schedules in the config"
        lines = []
        for v in found:
            who = f"*{esc(self.people.display('human:' + v.on_call))}*" if v.on_call else "_nobody_"
            line = f"*{esc(v.schedule)}*: {who} on call now"
            if v.next:
                h = v.next[0]
                nxt = esc(self.people.display("human:" + h.person)) if h.person else "nobody"
                line += f"; next: {nxt} from {h.start:%a %Y-%m-%d %H:%M} {esc(v.timezone)}"
            lines.append(line)
        return "\n".join(lines)
