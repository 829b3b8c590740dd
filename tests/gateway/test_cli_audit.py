"""`baton boundaries what-if` and `baton audit` as a team runs them in CI: a real incident on the dev server, its
history read from Temporal, and the exit codes a pipeline gates on."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from gateway.client import Refused
from incident.attestation import Method
from incident.models import Actor, Severity
from tests.helpers.config import make_config
from tests.helpers.http import Sink
from tests.helpers.incidents import open_incident, state
from tests.helpers.temporal import dev_address, harness

ROOT = Path(__file__).parents[2]
BATON = str(Path(sys.executable).parent / "baton")
TRIAGE = Actor.agent("triage")
SEV0_FULL = "boundaries:\n  autonomy: {SEV4: full, SEV3: full, SEV2: full, SEV1: approval, SEV0: full}\n"


def baton(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BATON, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


async def test_what_if_gates_a_widening_and_audit_passes(
    dev_env: WorkflowEnvironment, sink: Sink, tmp_path: Path
) -> None:
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, make_config(sink.url), http)
        async with h.worker:
            wid = await open_incident(h)
            iid = (await state(h, wid)).incident_id
            noted = await h.incidents.note(wid, TRIAGE, "error rate at 7%")
            assert noted.severity == "SEV2"  # the severity the boundaries decided it at, as the history keeps it
            with contextlib.suppress(Refused):
                await h.incidents.request(wid, TRIAGE, "postmortem_conclusions", "the deploy did it")
            await h.incidents.acting(Method.SLACK).set_severity(wid, Actor.human("alice"), Severity.SEV0, "down")
            with contextlib.suppress(Refused):
                await h.incidents.request(wid, TRIAGE, "escalate", "nobody answers")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "BATON_"))} | {
        "TEMPORAL_ADDRESS": dev_address(dev_env),
        "BATON_TASK_QUEUE": h.task_queue,
        "COLUMNS": "200",
    }
    (tmp_path / "new.yaml").write_text(SEV0_FULL)
    (tmp_path / "bad.yaml").write_text("boundaries: {agent: {auto: [rollback], approval: []}}\n")

    widened = baton(env, "boundaries", "what-if", str(tmp_path / "new.yaml"), "--since", "1h", "--json")
    assert widened.returncode == 1, widened.stderr
    assert "--allow-widening" in widened.stderr
    report = json.loads(widened.stdout)
    assert (report["incidents"], report["requests"], report["widenings"]) == (1, 3, 1)
    assert report["now"] == {"auto": 2, "approval": 0, "never": 1, "undefined": 0}
    (row,) = [r for r in report["rows"] if r["widening"]]
    assert (row["action"], row["severity"], row["was"], row["now"], row["incidents"]) == (
        "escalate",
        "SEV0",
        "never",
        "auto",
        [iid],
    )
    allowed = baton(env, "boundaries", "what-if", str(tmp_path / "new.yaml"), "--allow-widening")
    assert allowed.returncode == 0, allowed.stderr
    line = next(ln for ln in allowed.stdout.splitlines() if " escalate " in ln)
    assert line.split()[:7] == ["1", "escalate", "SEV0", "agent", "never", "auto", "widens"]
    assert "3 requests in 1 incidents" in allowed.stdout and "now 2 alone, 0 need approval, 1 refused" in allowed.stdout

    bad = baton(env, "boundaries", "what-if", str(tmp_path / "bad.yaml"))
    assert bad.returncode == 2 and "human decision" in bad.stderr, bad.stderr
    missing = baton(env, "boundaries", "what-if", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr, missing.stderr

    audited = baton(env, "audit", iid)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert f"{iid} ({wid}" in audited.stdout and "replays, 3 decisions" in audited.stdout
    assert "SEV0 agent:triage escalate: never (boundaries.autonomy.SEV0: read_only)" in audited.stdout
    window = baton(env, "audit", "--since", "1h", "--json")
    assert window.returncode == 0, window.stderr
    answer = json.loads(window.stdout)
    assert (answer["runs"], answer["failed"]) == (1, 0) and answer["audits"][0]["incident_id"] == iid
    unknown = baton(env, "audit", "INC-NOPE00")
    assert unknown.returncode == 2 and "no incident INC-NOPE00" in unknown.stderr, unknown.stderr
    neither = baton(env, "audit")
    assert neither.returncode == 2 and "give an incident id or --since" in neither.stderr
