"""`BATON_LOG_FORMAT=json`: one JSON object per line from structlog and the standard library alike, with the ids
bound for the task, and a traceback's frames without their local variables (they hold what a source sent)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
SCRIPT = """
import logging, structlog
from gateway.logs import configure_logging
assert configure_logging({"BATON_LOG_FORMAT": "json"})
structlog.contextvars.bind_contextvars(incident="BAT-7", workflow_id="incident:events:k")

def normalise(payload):
    raise ValueError("cannot normalise")

try:
    normalise("ALERT-CONTENT-" + "x" * 200)
except ValueError:
    structlog.get_logger("baton.intake").exception("normalising failed")
    logging.getLogger("temporalio.worker").exception("the SDK failed too")
logging.getLogger("uvicorn.error").warning("from %s", "uvicorn")
"""


def run(script: str) -> list[dict]:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ALERT-CONTENT" not in done.stdout + done.stderr
    return [json.loads(line) for line in done.stderr.splitlines() if line.strip()]


def test_every_line_is_json_with_the_incident_and_no_locals() -> None:
    lines = run(SCRIPT)
    assert [line["message"] for line in lines] == ["normalising failed", "the SDK failed too", "from uvicorn"]
    for line in lines:
        assert line["incident"] == "BAT-7" and line["workflow_id"] == "incident:events:k"
        assert line["level"] and line["timestamp"].endswith("Z")
    frames = lines[0]["exception"][0]["frames"]
    assert frames[-1]["name"] == "normalise" and all("locals" not in f for f in frames)
    assert lines[1]["logger"] == "temporalio.worker" and lines[1]["exception"][0]["exc_value"] == "cannot normalise"


def test_without_the_variable_the_console_format_stays() -> None:
    from gateway.logs import configure_logging

    before = logging.getLogger().handlers[:]
    assert configure_logging({}) is False
    assert logging.getLogger().handlers == before
