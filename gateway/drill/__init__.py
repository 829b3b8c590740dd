"""`baton drill`: play scenario files against a config in virtual time, before a real incident does.

Each scenario runs on Temporal's time-skipping test server with a worker of its own, built like a real one except
that pages are captured instead of sent and actions are described instead of run. Alerts go in through the same
façade the intake uses, steps through the one the CLI and agents use; between them the test server skips time, so
a 30-minute escalation takes milliseconds. What the incident did is then judged by `incident.judge`.

The rooms: `loading` (scenario files and their configs), `clock` (scenario time over the server's), `play` (one
scenario on the server: acting, capturing, settling), `running` (the server and a worker per scenario), `results`
(what a drill found) and `report` (the command: text or JSON, and the exit code). What a scenario says lives in
`incident.scenario`, how it is judged in `incident.judge`.
"""

from gateway.drill.loading import Drill, DrillSetupError, load_drills
from gateway.drill.report import drill_command, render
from gateway.drill.results import DrillResult, TimelineLine
from gateway.drill.running import run_drills

__all__ = [
    "Drill",
    "DrillResult",
    "DrillSetupError",
    "TimelineLine",
    "drill_command",
    "load_drills",
    "render",
    "run_drills",
]
