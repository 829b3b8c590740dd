"""Log highlights for a page: the newest lines of the service's LogQL query since shortly before the alert, grouped
so that a thousand near-identical errors read as one line with a count.

Loki returns at most LIMIT lines (newest first). When the limit is hit, `total` is LIMIT, the counts are those of
the newest LIMIT lines, and the part says so in `error` while staying `ok`: read `total == LIMIT` as "LIMIT+".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, Field, ValidationError

from activities.context.common import ProviderError, get, within
from activities.http_rules import excerpt
from incident.config import Logs, LokiIntegration
from incident.context import ContextPart, LogLine, LogSummary

LOOKBACK = timedelta(minutes=15)
LIMIT = 1000
TOP = 5
MAX_LINE = 300
EXPLORE_DATASOURCE = "Loki"
"""The Grafana data source (name or uid) an Explore link opens; Grafana falls back to its default if absent."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Most specific first: a timestamp or a UUID must not be eaten digit by digit by the number rule.
_PLACEHOLDERS = [
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<ts>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I), "<hex>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
]


class _Stream(BaseModel):
    stream: dict[str, str] = Field(default_factory=dict)
    values: list[tuple[int, str] | tuple[int, str, dict[str, Any]]] = Field(default_factory=list)


class _Data(BaseModel):
    result_type: str = Field(alias="resultType")
    result: list[Any]


class _Answer(BaseModel):
    status: str
    data: _Data


def nanos(at: datetime) -> int:
    """Unix nanoseconds, exactly (no float rounding)."""
    return (at - _EPOCH) // timedelta(microseconds=1) * 1000


def normalise(line: str) -> str:
    """The shape of a line: timestamps, UUIDs, hex ids and numbers replaced by placeholders."""
    for pattern, placeholder in _PLACEHOLDERS:
        line = pattern.sub(placeholder, line)
    return line.strip()


def trim(line: str, limit: int = MAX_LINE) -> str:
    line = line.strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def top_lines(lines: Iterable[str], top: int = TOP) -> list[LogLine]:
    """Group lines by shape; the most frequent shapes first, each shown by its first (newest) example."""
    groups: dict[str, list[Any]] = {}
    for line in lines:
        group = groups.setdefault(normalise(line), [0, line])
        group[0] += 1
    ranked = sorted(groups.values(), key=lambda g: -g[0])
    return [LogLine(text=trim(example), count=count) for count, example in ranked[:top]]


def explore_link(grafana: str, query: str, start: datetime, end: datetime) -> str:
    """A Grafana Explore URL (schema 1 `panes`) on this query and time range."""
    pane = {
        "datasource": EXPLORE_DATASOURCE,
        "queries": [{"refId": "A", "expr": query}],
        "range": {"from": str(nanos(start) // 1_000_000), "to": str(nanos(end) // 1_000_000)},
    }
    panes = json.dumps({"baton": pane}, separators=(",", ":"))
    return f"{grafana.rstrip('/')}/explore?{urlencode({'schemaVersion': '1', 'panes': panes}, quote_via=quote)}"


def _error_text(resp: httpx.Response) -> str:
    """Loki answers errors as plain text (older versions) or JSON with a `message`."""
    try:
        body = resp.json()
        text = str(body.get("message") or body.get("error") or body) if isinstance(body, dict) else str(body)
    except ValueError:
        text = resp.text
    return excerpt(text) or resp.reason_phrase


async def _query(
    http: httpx.AsyncClient, loki: LokiIntegration, params: dict[str, str], timeout: float
) -> list[_Stream]:
    url = f"{loki.url.rstrip('/')}/loki/api/v1/query_range"
    resp = await get(http, url, what="Loki", base=loki.url, timeout=timeout, params=params)
    if resp.status_code != 200:
        raise ProviderError(f"HTTP {resp.status_code} from Loki: {_error_text(resp)}")
    try:
        answer = _Answer.model_validate_json(resp.content)
    except ValidationError:
        raise ProviderError("Loki's answer is not a query_range result") from None
    if answer.data.result_type != "streams":
        kind = answer.data.result_type
        raise ProviderError(f"the query returns {kind}, not log lines: use a log query, not a metric one")
    try:
        return [_Stream.model_validate(s) for s in answer.data.result]
    except ValidationError:
        raise ProviderError("Loki's answer has malformed streams") from None


async def gather_logs(
    http: httpx.AsyncClient,
    loki: LokiIntegration,
    logs: Logs,
    alert_at: datetime,
    now: datetime,
    timeout: float,
) -> ContextPart:
    """The newest LIMIT lines from LOOKBACK before the alert until now, grouped. Never raises."""
    start = alert_at - LOOKBACK
    end = max(now, start + timedelta(seconds=1))
    params = {
        "query": logs.query,
        "start": str(nanos(start)),
        "end": str(nanos(end)),
        "limit": str(LIMIT),
        "direction": "backward",
    }
    try:
        streams = await within(timeout, _query(http, loki, params, timeout))
    except ProviderError as e:
        return ContextPart(provider="logs", ok=False, error=str(e))
    # Streams are each newest first; merge them so "the example" of a group is its newest line overall.
    entries = sorted(((v[0], v[1]) for s in streams for v in s.values), key=lambda e: -e[0])
    lines = [line for _, line in entries]
    if loki.explore_url:
        link = explore_link(loki.explore_url, logs.query, start, end)
    else:
        link = f"{loki.url.rstrip('/')}/loki/api/v1/query_range?{urlencode(params, quote_via=quote)}"
    note = None
    if len(lines) >= LIMIT:
        note = f"{LIMIT}+ lines: Loki's limit was reached, the counts are of the newest {LIMIT}"
    return ContextPart(
        provider="logs",
        error=note,
        logs=LogSummary(query=logs.query, total=len(lines), top=top_lines(lines), link=link),
    )
