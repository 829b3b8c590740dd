"""`baton update`: the stakeholder update that is due (its draft, when it fell due, who is asked to send it), and
sending it, as drafted or edited, to the internal audiences or, with `--customers`, as customer communication."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from gateway.cli.common import AsOpt, CodeOpt, IdArg, JsonOpt, act, done, emit_json, fail, out, run
from gateway.remote import RemoteIncidents
from gateway.render import escape
from incident.state import IncidentPolicy, IncidentState
from incident.updates import UpdatesState, next_due

MAX_TEXT = 4_000


def _t(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if when else None


def due_json(st: IncidentState, policy: IncidentPolicy) -> dict[str, Any]:
    """What `baton update INC --json` prints: the update due (or the next one) and the last one sent."""
    settings = policy.coordination.updates if policy.coordination else None
    upd = st.updates
    if upd is None and settings is not None and (settings.every or settings.internal):
        upd = UpdatesState(due_at=next_due(settings, st, UpdatesState()))  # before the incident first looked
    sent = [e for e in st.timeline if e.kind == "update_sent"]
    last = sent[-1] if sent else None
    return {
        "incident_id": st.incident_id,
        "configured": upd is not None,
        "update": upd.number if upd else None,
        "due": bool(upd and upd.pending),
        "due_at": _t(upd.due_at) if upd else None,
        "draft": upd.draft if upd else None,
        "draft_by": upd.draft_by if upd else None,
        "asked": [t.removeprefix("user:") for t in upd.asked] if upd else [],
        "reminded": bool(upd and upd.reminded),
        "sent": upd.sent if upd else 0,
        "last_sent": None if last is None else {"at": _t(last.at), "by": last.actor, **(last.data or {})},
    }


async def _read(c: RemoteIncidents, incident: str) -> tuple[IncidentState, IncidentPolicy]:
    found = await c.find(incident)
    return await c.state(found), await c.policy(found)


def _show(st: IncidentState, policy: IncidentPolicy) -> None:
    shown = due_json(st, policy)
    iid = st.incident_id
    if not shown["configured"]:
        out.print(f"{iid}: no stakeholder updates (the policy it runs by sets no coordination.updates).")
    elif shown["due"]:
        asked = ", ".join(shown["asked"]) or "nobody"
        reminded = " (reminded)" if shown["reminded"] else ""
        out.print(f"{iid}: update {shown['update']} is due since {shown['due_at']}{reminded}; asked: {asked}")
    else:
        when = shown["due_at"] or "when the severity has a cadence"
        out.print(f"{iid}: update {shown['update']} is due at {when}.", highlight=False)
    if shown["draft"]:
        by = "" if shown["draft_by"] in (None, "baton") else f" (wording by {shown['draft_by']})"
        out.print(f"\nDraft{by}:\n", highlight=False)
        out.print(escape(shown["draft"]), highlight=False)
        out.print(f"\nSend it: baton update {iid} --send   (edited: -m 'TEXT'; to customers: --customers)")
    if shown["last_sent"]:
        last = shown["last_sent"]
        out.print(f"\nLast sent: update {last.get('update')} at {last['at']} by {last['by']}", highlight=False)


def update(
    incident: IdArg,
    send: Annotated[bool, typer.Option("--send", help="Send it (the draft, or -m TEXT).")] = False,
    text: Annotated[str | None, typer.Option("--message", "-m", help="Send this text instead of the draft.")] = None,
    customers: Annotated[
        bool, typer.Option("--customers", help="To customers, as customer_comms (a human decision: with --code).")
    ] = False,
    code: CodeOpt = None,
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the stakeholder update that is due (its draft, due time, who is asked), or send it.

    Examples: baton update INC-7K2Q9M; baton update INC-7K2Q9M --send -m "Errors in eu-west; next update 03:00";
    baton update INC-7K2Q9M --send --customers --code 123456
    """
    if not send and (text is not None or customers or code is not None):
        raise fail("-m, --customers and --code go with --send: baton update INC --send [-m TEXT]", 2)
    if text is not None and not text.strip():
        raise fail("-m needs the text to send (leave it out to send the draft)", 2)
    if text is not None and len(text) > MAX_TEXT:
        raise fail(f"-m is {len(text)} characters; an update is at most {MAX_TEXT}", 2)
    if not send:
        st, policy = run(lambda c: _read(c, incident))
        if as_json:
            emit_json(due_json(st, policy))
        else:
            _show(st, policy)
        return
    audience = "customers" if customers else "internal"
    result = act(as_, lambda c, me: c.stakeholder_update(incident, me, text, audience, code=code))
    done(result, as_json)
