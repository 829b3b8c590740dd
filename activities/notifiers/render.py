"""A page with its context as plain text and as HTML: one wording for email, the log and webhook receivers.

The pieces (`fields`, `metric_line`, `log_line`, `missing_line`, `links`) are shared with the Slack renderer so a
page reads the same whichever way it arrives.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from zoneinfo import ZoneInfo

from activities.notifiers.base import headline, page_notes
from incident import display
from incident.context import LogLine, MetricSummary, PageContext
from incident.links import Link
from incident.models import Page

INTRO = {
    "page": "",
    "update": "More context for this incident, gathered after the page.",
    "recovered": "Every alert of this incident has recovered. Confirm it is resolved, or keep working on it.",
}
BRIEF = ("approval", "notice")
"""Kinds that follow a page: what is asked or what happened, the facts and links, not the context again."""


def intro(page: Page) -> str:
    """What the message is about, before the facts: for a page, whether it is late and who before was not reached;
    fixed for updates and recoveries; the notice for the others."""
    if page.kind == "page":
        return "\n".join(page_notes(page))
    return page.notice or "" if page.kind in BRIEF else INTRO.get(page.kind, "")


def number(value: float | None, unit: str = "") -> str:
    """`7.2%`, `1.84 s`, `12,840 req/s`; `n/a` when the source had no value."""
    if value is None:
        return "n/a"
    shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if not unit:
        return shown
    return f"{shown}{unit}" if unit == "%" else f"{shown} {unit}"


def metric_line(m: MetricSummary) -> str:
    """`5xx rate: 7.2% (before: 0.3%) ▁▁▂▅█`."""
    line = f"{m.name}: {number(m.current, m.unit)}"
    if m.before is not None:
        line += f" (before: {number(m.before, m.unit)})"
    return f"{line} {m.trend}" if m.trend else line


def log_line(top: LogLine) -> str:
    return f"{top.count:,}x {top.text}"


def missing_line(ctx: PageContext | None) -> str | None:
    """One short sentence naming the providers that failed, so nobody mistakes silence for 'nothing changed'."""
    if ctx is None or not ctx.missing:
        return None
    return "Context not available: " + "; ".join(ctx.missing)


def opened(page: Page, tz: str = "UTC") -> str:
    """The opening time in UTC, and in the reader's zone when it differs."""
    at = page.opened_at if page.opened_at.tzinfo else page.opened_at.replace(tzinfo=UTC)
    utc = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if tz in ("UTC", "Etc/UTC"):
        return utc
    return f"{utc} ({_local(at, tz)})"


def _local(at: datetime, tz: str) -> str:
    return f"{at.astimezone(ZoneInfo(tz)).strftime('%H:%M')} {tz}"


def fields(page: Page, tz: str = "UTC") -> list[tuple[str, str]]:
    """The facts a responder checks first, in the order they check them."""
    level = f"{page.level} of {page.levels}" + (f" (pass {page.cycle + 1})" if page.cycle else "")
    if page.kind == "page" and page.level == 0:
        level = "incident commander (nobody leads)"
    return [
        ("Service", page.service),
        ("Severity", page.severity.value),
        ("Status", page.status.value),
        ("Lead", page.lead or "nobody yet"),
        ("Level", level),
        ("Alerts", str(page.alert_count)),
        ("Opened", opened(page, tz)),
    ]


def links(page: Page, link: str) -> list[Link]:
    """The incident first, then the runbook, then what the sources and context providers linked to."""
    out = [Link(href=link, text="Incident")]
    if page.runbook:
        out.append(Link(href=page.runbook, text="Runbook"))
    extra = list(page.links) + (list(page.context.links) if page.context else [])
    seen = {lk.href for lk in out}
    for lk in extra:
        if lk.href not in seen:
            seen.add(lk.href)
            out.append(Link(href=lk.href, text=lk.text or "Source"))
    return out


ITEM = "  - "
ITEM_INDENT = "    "
"""Where an item's continuation lines start in plain text: under its text, never where an item or a heading would."""


def _item(value: str) -> str:
    return ITEM + display.hanging(value, ITEM_INDENT)


def text(page: Page, link: str, tz: str = "UTC") -> str:
    """The page as plain text: what a terminal, a text-only mail client or a log line shows. What sources wrote
    is shown as written (`incident.display`): its controls as escapes, its lines continued under its item."""
    out = [headline(page)]
    if intro(page):
        out += ["", display.visible(intro(page))]
    out.append("")
    width = max(len(name) for name, _ in fields(page, tz)) + 2
    out += [f"{name + ':':<{width}}{display.one_line(value)}" for name, value in fields(page, tz)]
    ctx = page.context if page.kind not in BRIEF else None
    if ctx and ctx.suspects:
        out += ["", "Suspects", *(_item(s.text) for s in ctx.suspects)]
    if ctx and ctx.metrics:
        out += ["", "Metrics"]
        for m in ctx.metrics:
            out.append(_item(metric_line(m)) + (f"  {display.one_line(m.link)}" if m.link else ""))
    if ctx and ctx.logs:
        out += ["", f"Logs ({ctx.logs.total:,} lines matched)", *(_item(log_line(t)) for t in ctx.logs.top)]
        if ctx.logs.link:
            out.append(f"  {display.one_line(ctx.logs.link)}")
    out += ["", "Links"]
    all_links = [(display.one_line(lk.text), display.one_line(lk.href)) for lk in links(page, link)]
    width = max(len(label) for label, _ in all_links) + 2
    out += [f"  {label + ':':<{width}}{href}" for label, href in all_links]
    if missing := missing_line(ctx):
        out += ["", display.hanging(missing, ITEM_INDENT)]
    return "\n".join(out) + "\n"


def safe_href(url: str) -> bool:
    """Only web links become anchors: a `javascript:` URL from an alert source stays inert text."""
    return url.lower().startswith(("http://", "https://"))


def _e(value: str) -> str:
    """Text from outside as HTML: markup escaped, on one line, its controls and invisible characters shown as
    escapes (a bidi override would reorder what the reader sees)."""
    return escape(display.one_line(value))


def anchor(href: str, label: str) -> str:
    if not safe_href(href):
        return _e(f"{label} ({href})")
    return f'<a href="{escape(display.one_line(href), quote=True)}">{_e(label)}</a>'


def _metric_item(m: MetricSummary) -> str:
    graph = f" {anchor(m.link, 'graph')}" if m.link else ""
    return f"<li>{_e(metric_line(m))}{graph}</li>"


def html(page: Page, link: str, tz: str = "UTC") -> str:
    """The page as an HTML fragment wrapped in a minimal document; every value from outside is escaped."""
    parts = [f'<h2 style="margin:0 0 8px">{_e(headline(page))}</h2>']
    if intro(page):
        parts.append("<p>" + "<br>".join(escape(line) for line in display.lines(intro(page))) + "</p>")
    rows = "".join(
        f'<tr><th align="left" style="padding-right:12px">{_e(name)}</th><td>{_e(value)}</td></tr>'
        for name, value in fields(page, tz)
    )
    parts.append(f"<table>{rows}</table>")
    ctx = page.context if page.kind not in BRIEF else None
    if ctx and ctx.suspects:
        items = "".join(f"<li>{_e(s.text)}</li>" for s in ctx.suspects)
        parts.append(f"<h3>Suspects</h3><ul>{items}</ul>")
    if ctx and ctx.metrics:
        items = "".join(_metric_item(m) for m in ctx.metrics)
        parts.append(f"<h3>Metrics</h3><ul>{items}</ul>")
    if ctx and ctx.logs:
        items = "".join(f"<li><code>{_e(log_line(t))}</code></li>" for t in ctx.logs.top)
        more = f"<p>{anchor(ctx.logs.link, 'All matching logs')}</p>" if ctx.logs.link else ""
        parts.append(f"<h3>Logs ({ctx.logs.total:,} lines matched)</h3><ul>{items}</ul>{more}")
    items = "".join(f"<li>{anchor(lk.href, lk.text)}</li>" for lk in links(page, link))
    parts.append(f"<h3>Links</h3><ul>{items}</ul>")
    if missing := missing_line(ctx):
        parts.append(f'<p style="color:#8a6d3b">{_e(missing)}</p>')
    body = "\n".join(parts)
    return f'<!doctype html>\n<html><body style="font-family:sans-serif">\n{body}\n</body></html>\n'
