"""Context for a page: recent deployments, metric and log highlights, each gathered within a deadline and never
blocking the page. Providers are plain async functions; `ContextActivities` wraps them as activities."""

from activities.context.activities import ContextActivities, ContextRequest, Provider, providers_for
from activities.context.github import gather_deployments
from activities.context.loki import gather_logs
from activities.context.prometheus import gather_metrics

__all__ = [
    "ContextActivities",
    "ContextRequest",
    "Provider",
    "gather_deployments",
    "gather_logs",
    "gather_metrics",
    "providers_for",
]
