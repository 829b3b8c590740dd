"""Every sentence an incident's timeline says, and what it tells or asks people, in one place.

Tests, drills and the docs quote these: change one deliberately. Each function takes what the sentence names, so
the kind of entry (`incident.timeline.Kind`) and its data stay with the code that decides to write it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from incident.approvals import Approval
from incident.durations import format_duration
from incident.models import Actor, Severity

# ---- opening, and alerts from sources ------------------------------------------------------------------------------


def opened(service: str, severity: Severity) -> str:
    return f"incident opened for {service} at {severity.value}"


COORDINATION_STARTED = (
    "coordination started: looking up on-call, gathering context, paging; "
    "escalation to a human continues until a human acknowledges"
)


def agent_coordinates(actor: Actor) -> str:
    return f"{actor} started coordinating; escalation to a human continues until a human acknowledges"


def alert(summary: str, severity: Severity, key: str) -> str:
    return f"{summary} ({severity.value}, key {key})"


def alerts_more(more: int, latest: str) -> str:
    return f"{more} more alert event(s); latest: {latest}"


def alert_refired(summary: str) -> str:
    return f"alert fired again after recovering: {summary}"


def alert_late(summary: str) -> str:
    return f"a recovery older than the alert's last change: {summary}"


def alert_recovered(summary: str) -> str:
    return f"the source reports recovery: {summary}"


def recovered_ignored(rule: str) -> str:
    return f"every alert has recovered; nothing changes ({rule})"


def recovered_resolve(rule: str) -> str:
    """The resolve summary when the service resolves on recovery."""
    return f"every alert recovered ({rule})"


def recovered_ask(rule: str) -> str:
    return f"every alert has recovered; escalation paused. A responder confirms with `baton resolve` ({rule})"


# ---- context -------------------------------------------------------------------------------------------------------


def context_gathered(described: str) -> str:
    return "context gathered: " + described


def late_context(described: str) -> str:
    return "late context: " + described


# ---- escalation and paging -----------------------------------------------------------------------------------------


def escalation_exhausted(passes: int, levels: int) -> str:
    return (
        f"escalation exhausted: nobody acknowledged after {passes} pass{'es' if passes > 1 else ''} "
        f"through {levels} level(s)"
    )


def escalation_skipped(level: int, targets: list[str]) -> str:
    return f"level {level} ({', '.join(targets)}) resolves to nobody; skipped"


def escalation(level: int, levels: int, cycle: int | None, people: list[str]) -> str:
    """`cycle` is the pass (from 1) when the levels repeat, else None."""
    pass_note = f", pass {cycle}" if cycle is not None else ""
    return f"paging level {level} of {levels}{pass_note}: {', '.join(people)}"


def page_failed(person: str, method: str, reason: str, next_method: str | None, retrying: bool = False) -> str:
    """`retrying`: the page is tried again (after the person's other methods) until its level's time runs out."""
    then = f"; trying {next_method}" if next_method else "; trying again" if retrying else "; no method left"
    return f"could not reach {person} via {method}: {reason}{then}"


def failures(failed: list[tuple[str, str, int]]) -> str:
    """Per method (method, latest reason, failed attempts): `webhook answered 500 (12 times); email: timed out`."""
    parts = [(r if r.startswith(m) else f"{m}: {r}") + (f" ({n} times)" if n > 1 else "") for m, r, n in failed]
    return "; ".join(parts) or "no attempt yet"


def _level(level: int) -> str:
    """`level 2`; level 0 is a page outside the escalation: an incident commander's (nobody led in time)."""
    return f"level {level}" if level else "incident commander"


def still_trying(person: str, level: int, failed: list[tuple[str, str, int]]) -> str:
    return f"still trying {person} ({_level(level)}): {failures(failed)}"


def paged(person: str, method: str, level: int, via: str, late: bool = False, attempts: int = 1) -> str:
    tail = f", after {attempts} attempts" if attempts > 1 else ""
    late_note = ": late, the level's time had run out" if late else ""
    return f"paged {person} via {method} ({_level(level)}, {via}{tail}){late_note}"


def level_unreachable(person: str, level: int, within: str, what: str, next_level: int | None) -> str:
    tell = f"; level {next_level} is told" if next_level else ""
    return f"could not reach {person} (level {level}) within {within}: {what}; still trying{tell}"


def unreachable_note(level: int, people: list[str], what: str) -> str:
    """On the next level's page: who before them was not reached."""
    return f"Level {level} ({', '.join(people)}) could not be reached: {what}."


def page_dropped(person: str, level: int, why: str) -> str:
    return f"stopped trying to page {person} ({_level(level)}): {why}"


def forwarded(person: str, method: str, status: str) -> str:
    """baton's acknowledgement or resolve, told to a method that keeps its own incident (PagerDuty)."""
    return f"told {method} the incident is {status} ({person}'s page there)"


FOLLOW_UPS = {
    "recovered": "asked {p} via {m} to confirm the resolve",
    "update": "updated {p} via {m}",
    "approval": "asked {p} via {m} to approve or deny {a}",
    "notice": "told {p} via {m}",
}


def followed_up(page_kind: str, person: str, method: str, approval_id: str | None) -> str:
    """A follow-up (not a page) delivered: asked to confirm, updated, asked to decide, told."""
    return FOLLOW_UPS[page_kind].format(p=person, m=method, a=approval_id)


def escalate_now(actor: Actor, level: int, why: str) -> str:
    return f"{actor} escalates to level {level} now{_why(why, ': ')}"


def bring_in(actor: Actor, level: int, why: str) -> str:
    return f"{actor} brings in level {level}{_why(why, ': ')}"


def page_requested(actor: Actor, target: str, why: str) -> str:
    return f"{actor} pages {target}{_why(why, ': ')}"


# ---- acknowledging, closing, severity, policy ----------------------------------------------------------------------


def acknowledged(actor: Actor, via_source: bool, ack_timeout: timedelta | None) -> str:
    what = "the source acknowledged" if via_source else f"acknowledged by {actor}"
    until = f"; back to triggered unless resolved within {format_duration(ack_timeout)}" if ack_timeout else ""
    return f"{what}; escalation stopped{until}"


def ack_timeout(acknowledged_by: str | None, timeout: timedelta) -> str:
    return (
        f"acknowledged by {acknowledged_by} but not resolved within {format_duration(timeout)}; "
        "back to triggered, escalation restarts"
    )


def resolved(actor: Actor, resolution: str | None) -> str:
    return f"resolved by {actor}" + (f": {resolution}" if resolution else "")


def severity_set(severity: Severity, before: str, reason: str) -> str:
    return f"severity set to {severity.value} (was {before}){_why(reason.strip(), ': ')}"


def severity_proposed_kept(severity: Severity, reason: str, in_force: Severity, set_by: str | None) -> str:
    return f"proposes {severity.value}: {reason.strip()} ({in_force.value} was set by {set_by}; it stays)"


def alert_proposes_severity(summary: str) -> str:
    """The reason a more severe alert gives for its severity."""
    return f"a more severe alert joined: {summary}"


def severity_proposed(severity: Severity, reason: str, in_force: str) -> str:
    return f"proposes {severity.value}: {reason.strip()}; in force: {in_force}"


def policy_reloaded(actor: Actor, changed: list[str]) -> str:
    return f"{actor} reloaded the policy from the config: {', '.join(changed) if changed else 'nothing changed'}"


def allowed_action(actor: Actor, action: str, why: str) -> str:
    """An allowed action that only goes on the record (`lookup_oncall`, `gather_context`)."""
    return f"{actor}: {action}{_why(why, ' — ')}"


# ---- who leads: roles ----------------------------------------------------------------------------------------------


def role_taken(person: str, role: str, first_ack: bool = False) -> str:
    return f"{person} takes {role}" + (": the first to acknowledge" if first_ack else "")


def role_handed(by: str, role: str, person: str, before: str | None) -> str:
    was = f" (was {before})" if before and before != by else ""
    return f"{by} hands {role} to {person}{was}"


def role_proposed(actor: Actor, person: str, role: str, reason: str) -> str:
    return f"{actor} proposes {person} as {role}{_why(reason, ': ')}"


def role_proposal_notice(incident_id: str, actor: Actor, person: str, role: str, reason: str) -> str:
    take = f"baton lead {incident_id}" if role == "lead" else f"baton role {incident_id} {role}"
    return (
        f"{role_proposed(actor, person, role, reason)}. A human decides: {person} takes it with `{take}`, "
        f"anyone hands it over with `{take} {person}`."
    )


def lead_missing(within: timedelta, people: list[str]) -> str:
    who = f"paging the incident commanders: {', '.join(people)}" if people else NO_COMMANDERS
    return f"nobody has taken the lead {format_duration(within)} after opening; {who}"


NO_COMMANDERS = (
    "nobody could be paged: boundaries.roles has no incident-commander people (`baton config check` says so)"
)


def lead_missing_page(incident_id: str, within: timedelta) -> str:
    """What an incident commander's page says before its facts."""
    return (
        f"Nobody has taken the lead of this incident {format_duration(within)} after it opened: you are paged as "
        f"incident commander. Take the lead (`baton lead {incident_id}`) or hand it to someone "
        f"(`baton lead {incident_id} NAME`)."
    )


# ---- boundaries, approvals and actions -----------------------------------------------------------------------------


def refused(actor: Actor, action: str, rule: str, hint: str, undefined: bool) -> str:
    what = "is not an action the policy names" if undefined else f"refused by {rule}"
    return f"{actor} asked to {action}: {what}; {hint}"


def impersonation(claimed: Actor, update: str, problem: str) -> str:
    return f"impersonation attempt: a {update} request claiming to be {claimed} was refused: {problem}"


def refused_notice(text: str) -> str:
    return f"Refused: {text}"


LAST_REFUSAL_NOTICE = (
    " (the last refusal notice for this incident: further refusals go on its timeline and are counted, untold)"
)
OTHER_NAMES_RULE = "too many distinct unknown names on this incident: counted together"


def lookalike_hint(action: str) -> str:
    return (
        f"it reads like {action} but is another name (case, spaces, look-alike or hidden characters); "
        f"ask for {action} exactly, if the policy lets you"
    )


def decided_at_floor(severity: Severity) -> str:
    return (
        f"decided at {severity.value}: an agent opened this incident while another open incident of the service is "
        f"{severity.value}, and until a human confirms this one's severity agents are held to the stricter"
    )


def over_budget(actor: Actor, kind: str, refills: datetime) -> str:
    return f"{actor} has used its budget of {kind} on this incident; it refills at {refills:%H:%M} UTC"


def withdrawn(actor: Actor, approval: Approval) -> str:
    return f"{actor} withdrew {approval.id} ({approval.describe()}){_why(approval.reason or '', ': ')}"


def lookalike_rule(action: str) -> str:
    what = "other case, spaces, look-alike or hidden characters"
    return f"a look-alike of {action} ({what}): not a name the policy knows"


def approval_requested(actor: Actor, approval: Approval, timeout: timedelta) -> str:
    return (
        f"{actor} asks to {approval.describe()}{_why(approval.rationale, ': ')} — approval {approval.id} needed "
        f"({approval.rule}); {', '.join(approval.approvers)} may decide; unanswered, it escalates in "
        f"{format_duration(timeout)}"
    )


def approval_question(incident_id: str, approval: Approval) -> str:
    """What an approver is asked, with the commands to answer."""
    lines = [
        f"{approval.requested_by} asks to {approval.describe()}.",
        f"Why: {approval.rationale}" if approval.rationale else "",
        f"Text to post: {approval.text}" if approval.text else "",
        f"Approve: baton approve {incident_id} {approval.id}",
        f"Deny:    baton deny {incident_id} {approval.id} --reason '...'",
    ]
    return "\n".join(line for line in lines if line)


def approval_escalated(approval: Approval, timeout: timedelta, level: int, targets: list[str]) -> str:
    return (
        f"approval {approval.id} ({approval.describe()}) unanswered for {format_duration(timeout)}; "
        f"asking level {level}: {', '.join(targets)}"
    )


def approval_expiry_reason(timeout: timedelta) -> str:
    return f"nobody with the right answered within {format_duration(timeout)} after every escalation level was asked"


APPROVAL_RESOLVED_FIRST = "the incident was resolved before anyone decided"


def approval_expired(approval: Approval) -> str:
    return f"approval {approval.id} ({approval.describe()}) expired: {approval.reason}"


def approval_expired_notice(approval: Approval) -> str:
    return f"Approval {approval.id} ({approval.describe()}) expired unanswered."


def approval_denied(actor: Actor, approval: Approval) -> str:
    return f"{actor} denied {approval.id} ({approval.describe()}): {approval.reason}"


def approval_approved(actor: Actor, approval: Approval, edited: bool) -> str:
    return f"{actor} approved {approval.id} ({approval.describe()}){' (text edited)' if edited else ''}"


def action_outcome(what: str, approved: bool, ran: bool, dry_run: bool, ok: bool, runner: str, detail: str) -> str:
    """`what` is the action and, for an approved one, its approval id."""
    if not ran:
        return f"{what} {'approved' if approved else 'allowed'}; {detail}"
    if dry_run:
        return f"{what} would run (drill): {detail}"
    if ok:
        return f"{what} ran: {runner}: {detail}"
    return f"{what} FAILED: {runner + ': ' if runner else ''}{detail}"


def action_skipped(ref: str, approved: bool = True) -> str:
    return f"{ref} was {'approved' if approved else 'accepted'} but not run: resolved first"


def _why(why: str, sep: str) -> str:
    return f"{sep}{why}" if why else ""


def action_accepted(actor: Actor, ref: str, what: str, rule: str, why: str) -> str:
    """An auto action accepted by `request`: it runs from the main loop, and its outcome follows on the timeline."""
    return f"{actor} asked to {what} ({rule}): {ref} runs now{_why(why, ' — ')}"


def timeline_left(entries: int, runs: int) -> str:
    """What a carried timeline left behind, and where it is."""
    return (
        f"{entries} earlier timeline entr{'y is' if entries == 1 else 'ies are'} not shown: they are in the history "
        f"of this incident's earlier runs (runs 1 to {runs - 1}; `temporal workflow show` with their run ids)"
    )


# ---- the incident's Slack channel ----------------------------------------------------------------------------------


def channel_opened(shown: str, created: bool, found: bool) -> str:
    if not created:
        return f"posting in {shown} (the service's channel: nothing created)"
    return f"channel {shown} " + ("found (an earlier attempt had created it)" if found else "created")


def channel_none(reason: str) -> str:
    return f"no incident channel: {reason}"


def channel_announced(where: str, shown: str) -> str:
    return f"announced in {where} with a link to {shown}"


def channel_invited(people: list[str], shown: str) -> str:
    return f"invited {', '.join(people)} to {shown}"


def channel_problem(what: str, reason: str, again: timedelta | None) -> str:
    """A channel step that failed: what, why, and when it is tried again (None: it is not)."""
    then = f"; trying again in {format_duration(again)}" if again else "; not tried again"
    return f"slack: could not {what}: {reason}{then}"


def channel_closing(shown: str, archive_at: datetime | None, now: datetime) -> str:
    told = f"{shown} is told of the resolve and the postmortem draft"
    if archive_at is None:
        return told
    return told + f"; it is archived in {format_duration(archive_at - now)} (at {archive_at:%Y-%m-%d %H:%M} UTC)"


def channel_resolved(incident_id: str, by: str, after: timedelta, resolution: str | None) -> str:
    """The closing message (mrkdwn, `resolution` escaped by the caller)."""
    why = f": {resolution}" if resolution else ""
    return (
        f"*Resolved* by {by} after {format_duration(after)}{why}\n"
        f"Postmortem draft: `baton postmortem {incident_id}` (facts and questions from the timeline)"
    )


# ---- stakeholder updates ---------------------------------------------------------------------------------------


def update_due(number: int, asked: list[str], every: timedelta) -> str:
    who = ", ".join(t.removeprefix("user:") for t in asked) or "nobody (no one to ask)"
    return f"stakeholder update {number} is due (every {format_duration(every)}): drafted; asking {who} to send it"


def update_ask(incident_id: str, number: int, draft: str, customers: bool) -> str:
    """What the person asked to send an update is told: the draft, and the commands to send it."""
    lines = [
        f"Stakeholder update {number} for {incident_id} is due. The draft:",
        "",
        draft,
        "",
        f"Send it as is:  baton update {incident_id} --send",
        f"Or edited:      baton update {incident_id} --send -m 'TEXT'",
    ]
    if customers:
        lines.append(f"To customers:   baton update {incident_id} --send --customers (the status page)")
    return "\n".join(lines)


def update_reminded(number: int, waited: timedelta, asked: list[str]) -> str:
    who = ", ".join(t.removeprefix("user:") for t in asked) or "nobody"
    return f"stakeholder update {number} unsent for {format_duration(waited)}; reminding {who}"


def update_escalated(number: int, waited: timedelta, level: int, targets: list[str]) -> str:
    return (
        f"stakeholder update {number} still unsent after {format_duration(waited)}; "
        f"asking level {level}: {', '.join(targets)}"
    )


def update_proposed(actor: Actor, number: int, text: str) -> str:
    return f"{actor} proposes the wording of stakeholder update {number}: {text}"


def update_proposal_notice(incident_id: str, actor: Actor, number: int, text: str) -> str:
    return (
        f"{actor} proposes the wording of stakeholder update {number} for {incident_id}:\n\n{text}\n\n"
        f"Send it: baton update {incident_id} --send (or edited: -m 'TEXT')"
    )


def update_sent(actor: Actor, number: int, audiences: list[str], text: str, approved_by: str | None = None) -> str:
    to = ", ".join(audiences) if audiences else "the timeline only (no internal audience is configured)"
    by = f" (approved by {approved_by})" if approved_by else ""
    return f"{actor} sent stakeholder update {number} to {to}{by}: {text}"


def update_posted(number: int, posted: list[str], failed: dict[str, str], drill: bool = False) -> str:
    done = f"posted to {', '.join(posted)}" if posted else "posted nowhere"
    if drill:
        done = f"described for {', '.join(posted)} (a drill: nothing posted)"
    problems = "; ".join(f"{a}: {why}" for a, why in failed.items())
    return f"stakeholder update {number} {done}" + (f"; not posted to {problems}" if problems else "")


def shadow_disagrees(actor: Actor, action: str, severity: str, enforced: str, shadow: str, rule: str) -> str:
    would = {
        "never": f"refused {action}",
        "undefined": f"found {action} undefined",
        "approval": f"asked a human to approve {action}",
        "auto": f"let {actor} {action} alone",
    }.get(shadow, f"decided {action} {shadow}")
    return f"shadow policy would have {would} at {severity}: rule {rule} (enforced: {enforced})"


def autonomy_fixed(earned: Mapping[str, Mapping[str, str]], starts: Mapping[str, str]) -> str:
    """`autonomy fixed for this incident: agent:triage SEV2 full (earned); others at the start (SEV2 approval)`."""
    start = ", ".join(f"{sev} {level}" for sev, level in sorted(starts.items()))
    moved = [
        f"agent:{agent} " + ", ".join(f"{sev} {lvl}" for sev, lvl in sorted(levels.items()) if lvl != starts[sev])
        for agent, levels in sorted(earned.items())
        if any(lvl != starts[sev] for sev, lvl in levels.items())
    ]
    if not moved:
        return f"autonomy fixed for this incident: every agent at its ladders' start ({start})"
    return f"autonomy fixed for this incident: {'; '.join(moved)} (earned); others at the start ({start})"


def maintenance_held(window_id: str, target: str, by: str, until: str, message: str) -> str:
    why = f": {message}" if message else ""
    return f"maintenance window {window_id} ({target}) opened by {by}{why}; escalation and notices held until {until}"


def maintenance_ended(window_id: str, target: str, by: str, resumes: bool) -> str:
    then = "; not acknowledged, so escalation resumes now" if resumes else ""
    return f"maintenance window {window_id} ({target}) ended ({by}){then}"


def maintenance_reopened(window_id: str, target: str) -> str:
    return f"maintenance window {window_id} ({target}) ended; alerts it held still fire, so they page as usual"
