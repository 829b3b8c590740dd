"""The intake's logs never carry a traceback's local variables: they hold what a source sent."""

from __future__ import annotations

import pytest
import structlog

from gateway.client import Incidents
from gateway.intake import create_app
from tests.helpers.config import make_config


def test_an_exception_is_logged_without_the_locals_that_hold_alert_contents(
    capsys: pytest.CaptureFixture[str],
) -> None:
    create_app(make_config(), Incidents(client=None))  # type: ignore[arg-type]

    def normalise(payload: str) -> None:
        raise ValueError("cannot normalise")

    payload = "ALERT-CONTENT-" + "x" * 1000  # not on a line the traceback quotes
    try:
        normalise(payload)
    except ValueError:
        structlog.get_logger("baton.intake").exception("normalising failed")
    out = capsys.readouterr()
    text = out.out + out.err
    assert "cannot normalise" in text and "normalise" in text
    assert "ALERT-CONTENT" not in text
