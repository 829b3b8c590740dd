"""Text that sources, agents and people wrote, made safe to show: one rule for the terminal, Slack, email and the
postmortem draft.

Alert titles, notes, rationales, resolutions and log lines reach a responder who must be able to trust what they
read. Such text may carry terminal escape sequences (cursor movement, OSC 8 links, title sets), C1 controls, bidi
overrides that reorder what is shown, invisible characters that hide text, and line breaks that would start a
line looking like another timeline entry. Here every such character is shown as an escape (`\\x1b`, `\\u202e`),
never obeyed; tabs become spaces; and a line break becomes a continuation line, marked and indented under the
entry it belongs to. The stored text is never changed: this runs when text is shown. Pure, so workflow code may
call it.
"""

from __future__ import annotations

import re

CONTINUED = "↳ "
"""What starts every line after the first of one text: it belongs to the entry above, it is not one of its own."""
TAB = "    "

_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029]")
"""Line breaks a writer means: they become continuation lines. Other characters that some programs take for a
line break (vertical tab, form feed, NEL, the file separators) are shown as escapes."""
_HIDDEN = re.compile(
    "["
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 (but tab and line feed) and DEL, C1: escape sequences and controls
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0"  # invisible or blank letters
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"  # zero-width, bidi marks and overrides
    "\ufe00-\ufe0d"  # variation selectors (FE0E, FE0F choose text or emoji presentation and stay)
    "\ud800-\udfff"  # lone surrogates: no terminal can print them
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"  # invisible format controls
    "\U000e0000-\U000e0fff"  # tags (text an agent reads but nobody sees) and more variation selectors
    "]"
)
"""Every control and format character but the few that print a visible mark (the Arabic, Syriac and Kaithi
number signs, `PREPENDED_MARKS`), the invisible letters, and the variation selectors that can hide data."""
PREPENDED_MARKS = "\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd"


def _shown(m: re.Match[str]) -> str:
    code = ord(m.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def lines(text: str) -> list[str]:
    """The text's lines, each with every control and invisible character shown as an escape, tabs as spaces."""
    return [_HIDDEN.sub(_shown, line.replace("\t", TAB)) for line in _BREAK.split(text)]


def visible(text: str) -> str:
    """The text with controls and invisible characters shown as escapes; line breaks kept as `\\n`."""
    return "\n".join(lines(text))


def hanging(text: str, indent: str = "") -> str:
    """The text as lines under its first: each later line starts with `indent` and `CONTINUED`, so it can never
    start where an entry (its time, its author) starts. `indent` is the width of what precedes the first line."""
    first, *rest = lines(text)
    return "\n".join([first, *(f"{indent}{CONTINUED}{line}" for line in rest)])


def one_line(text: str) -> str:
    """The text on one line (a subject, a header, a table cell): line breaks shown as ` ↵ `."""
    return " ↵ ".join(lines(text))
