"""The HTTP intake: alert sources, changes and Slack POST here. A 2xx means the event is durably in Temporal.

`create_app(config, incidents)` builds it: routers for alerts (`alerts`), changes (`changes`) and health
(`health`), the Slack routes from `gateway.slack`, shared dependencies in `dependencies`, one error shape in
`errors`, the body limit in `limits`.
"""

from gateway.intake.app import create_app

__all__ = ["create_app"]
