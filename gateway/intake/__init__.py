"""The gateway's HTTP app: alert sources, changes and Slack POST here (a 2xx means the event is durably in
Temporal), and people and agents use the incidents API (`gateway.api`) with their own tokens.

`create_app(config, incidents)` builds it: routers for alerts (`alerts`), changes (`changes`), health (`health`),
the incidents API from `gateway.api`, the Slack routes from `gateway.slack`, shared dependencies in
`dependencies`, one error shape in `errors`, the body limit in `limits`.
"""

from gateway.intake.app import create_app

__all__ = ["create_app"]
