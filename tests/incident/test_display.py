"""Text others wrote, made safe to show: no control or invisible character survives, no line starts an entry."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from incident.display import CONTINUED, PREPENDED_MARKS, hanging, one_line, visible


def test_controls_and_invisible_characters_are_shown_as_escapes() -> None:
    assert visible("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert visible("\x9b\x85\x0b\x7f") == "\\x9b\\x85\\x0b\\x7f"
    assert visible("abc\u202edef\u2066\u200b\ufeff") == "abc\\u202edef\\u2066\\u200b\\ufeff"
    assert visible("hidden\U000e0041\U000e0042") == "hidden\\U000e0041\\U000e0042"
    assert visible("a\tb") == "a    b"
    assert visible("café ⚠\ufe0f 日本 مرحبا") == "café ⚠\ufe0f 日本 مرحبا", "ordinary text of any script stays"


def test_every_line_after_the_first_is_a_marked_continuation() -> None:
    text = "one\r\ntwo\rthree\nfour\u2028five"
    assert hanging(text, "  ") == "one\n  ↳ two\n  ↳ three\n  ↳ four\n  ↳ five"
    assert one_line(text) == "one ↵ two ↵ three ↵ four ↵ five"


@given(st.text(st.characters(codec="utf-8") | st.sampled_from("\n\r\x1b\x9b\u202e\u2028\u2029\x85\t")))
def test_nothing_shown_can_move_the_cursor_or_start_an_entry(text: str) -> None:
    shown = hanging(text, "    ")
    _, *rest = shown.split("\n")
    assert all(line.startswith("    " + CONTINUED) for line in rest)
    for c in re.sub(f"[\n{PREPENDED_MARKS}]", "", shown):
        assert unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp"), repr(c)
    assert "\n" not in one_line(text) and len(one_line(text).splitlines()) <= 1


def test_no_control_or_format_character_is_left_out() -> None:
    """Every code point, once: a new Unicode version adding a format character shows up here."""
    left = [
        f"U+{code:04X}"
        for code in range(0x110000)
        if unicodedata.category(c := chr(code)) in ("Cc", "Cf", "Cs", "Zl", "Zp")
        and c in visible(c).replace("\n", "")
        and not re.match(f"[{PREPENDED_MARKS}]", c)
    ]
    assert left == []
