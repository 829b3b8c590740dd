"""Reading scenario files and the config each runs against, with every problem reported before anything runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from incident.config import Config, ConfigError, load_config
from incident.config import config_path as default_config_path
from incident.scenario import Scenario, ScenarioError, config_for, load_scenario


class DrillSetupError(Exception):
    """Scenario files or configs that cannot be used: nothing was run. One entry per file with problems."""

    def __init__(self, errors: Sequence[ScenarioError | ConfigError]):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass
class Drill:
    scenario: Scenario
    config: Config
    config_file: str


def load_drills(paths: Sequence[Path], config_override: str | None = None) -> list[Drill]:
    """Read every scenario and the config each runs against (`--config`, else the scenario's `config:`, else
    $BATON_CONFIG, ./baton.yaml, the shipped example). Raises DrillSetupError listing every bad file."""
    drills: list[Drill] = []
    errors: list[ScenarioError | ConfigError] = []
    configs: dict[Path, Config | ConfigError] = {}
    for path in paths:
        try:
            scenario = load_scenario(path)
        except ScenarioError as e:
            errors.append(e)
            continue
        where = Path(config_override) if config_override else config_for(scenario) or default_config_path()
        if where not in configs:
            try:
                configs[where] = load_config(where)
            except ConfigError as e:
                configs[where] = e
                errors.append(e)  # once per config, however many scenarios use it
        config = configs[where]
        if isinstance(config, ConfigError):
            continue
        problems = scenario.problems_with(config)
        if problems:
            errors.append(ScenarioError(f"{path} (against {where})", problems))
            continue
        drills.append(Drill(scenario, config, str(where)))
    if errors:
        raise DrillSetupError(errors)
    return drills
