"""Metric highlights for a page: each configured PromQL query over the half hour before the alert, read from
Prometheus' range API and reduced to what a responder reads at a glance (now, before, a sparkline, a link).

A query that fails does not hide the others: the part stays `ok` while at least one query answered, and the
failures are named in `error`; only when every query failed is the part `ok=False`.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, Field, ValidationError

from activities.context.common import ProviderError, get, within
from activities.http_rules import excerpt
from incident.config import MetricQuery, PrometheusIntegration
from incident.context import ContextPart, MetricSummary

LOOKBACK = timedelta(minutes=30)
"""How far before the alert the graph starts."""
BASELINE = timedelta(minutes=5)
"""`before` is the value this long before the alert: what "normal" looked like just before things went wrong."""
MAX_POINTS = 60
MIN_STEP = 15
BUCKETS = 12
BARS = "▁▂▃▄▅▆▇█"
GAP = "·"
"""A sparkline bucket with no usable value (no samples, or only NaN)."""
FRESH = timedelta(minutes=5)
"""A newest value older than this (Prometheus' own lookback) is not "current": the series stopped reporting."""

Point = tuple[float, float]


class _Series(BaseModel):
    metric: dict[str, str] = Field(default_factory=dict)
    values: list[tuple[float, str]] = Field(default_factory=list)


class _Matrix(BaseModel):
    result_type: str = Field(alias="resultType")
    result: list[_Series]


class _Answer(BaseModel):
    """Prometheus' envelope: `data` on success, `errorType` and `error` on failure."""

    status: str
    data: _Matrix | None = None
    error_type: str | None = Field(None, alias="errorType")
    error: str | None = None


def query_window(alert_at: datetime, now: datetime) -> tuple[float, float, int]:
    """(start, end, step) in seconds: at most ~MAX_POINTS points, a step of at least MIN_STEP, and `start`
    moved back a little so that `end` itself is evaluated — the last point is "now", not up to a step ago."""
    end = now.timestamp()
    start = min((alert_at - LOOKBACK).timestamp(), end - MIN_STEP)
    step = max(MIN_STEP, math.ceil((end - start) / MAX_POINTS))
    return end - math.ceil((end - start) / step) * step, end, step


def graph_link(prom: PrometheusIntegration, query: str) -> str:
    params = {"g0.expr": query, "g0.tab": "0", "g0.range_input": "1h"}
    return f"{prom.url.rstrip('/')}/graph?{urlencode(params, quote_via=quote)}"


def sum_series(series: list[list[Point]]) -> list[Point]:
    """Add series point by point (a range query evaluates every series at the same timestamps). NaN is a
    missing value, not a poison: a ratio that is 0/0 on one instance must not blank the whole sum."""
    sums: dict[float, float] = {}
    for points in series:
        for ts, value in points:
            if math.isnan(value):
                sums.setdefault(ts, math.nan)
            else:
                prev = sums.get(ts, math.nan)
                sums[ts] = value if math.isnan(prev) else prev + value
    return sorted(sums.items())


def value_before(points: list[Point], at: float) -> float | None:
    """The newest finite value at or before `at`."""
    found = [v for ts, v in points if ts <= at and math.isfinite(v)]
    return found[-1] if found else None


def current_value(points: list[Point], end: float) -> float | None:
    """The newest finite value, if it is recent: a series that stopped reporting has no current value."""
    found = [(ts, v) for ts, v in points if math.isfinite(v)]
    return found[-1][1] if found and found[-1][0] >= end - FRESH.total_seconds() else None


def sparkline(points: list[Point], start: float, end: float, buckets: int = BUCKETS) -> str:
    """One character per time bucket, oldest first, scaled between the lowest and highest bucket. A flat
    series is all ▄; +Inf draws as █ and -Inf as ▁; a bucket with no usable value is `·`."""
    if not points:
        return ""
    width = (end - start) / buckets or 1.0
    grouped: list[list[float]] = [[] for _ in range(buckets)]
    for ts, value in points:
        grouped[min(buckets - 1, max(0, int((ts - start) / width)))].append(value)
    means: list[float | None] = []
    for values in grouped:
        finite = [v for v in values if math.isfinite(v)]
        if finite:
            means.append(sum(finite) / len(finite))
        elif any(v == math.inf for v in values):
            means.append(math.inf)
        elif any(v == -math.inf for v in values):
            means.append(-math.inf)
        else:
            means.append(None)
    finite_means = [m for m in means if m is not None and math.isfinite(m)]
    lo, hi = (min(finite_means), max(finite_means)) if finite_means else (0.0, 0.0)
    flat = hi - lo <= 1e-9 * max(abs(lo), abs(hi), 1e-300)
    out = []
    for m in means:
        if m is None:
            out.append(GAP)
        elif m == math.inf:
            out.append(BARS[-1])
        elif m == -math.inf:
            out.append(BARS[0])
        elif flat:
            out.append(BARS[3])
        else:
            out.append(BARS[round((m - lo) / (hi - lo) * (len(BARS) - 1))])
    return "".join(out)


def summarise(
    q: MetricQuery, series: list[list[Point]], link: str, alert_at: datetime, start: float, end: float
) -> MetricSummary:
    """Reduce what a query returned to one summary; several series are summed and the name says so."""
    points = sum_series(series)
    name = q.name
    if len(series) > 1:
        name += f" (sum of {len(series)} series)"
    elif not series:
        name += " (no data)"
    return MetricSummary(
        name=name,
        query=q.query,
        unit=q.unit,
        current=current_value(points, end),
        before=value_before(points, (alert_at - BASELINE).timestamp()),
        trend=sparkline(points, start, end),
        link=link,
    )


async def _query_range(
    http: httpx.AsyncClient,
    prom: PrometheusIntegration,
    query: str,
    start: float,
    end: float,
    step: int,
    timeout: float,
) -> list[list[Point]]:
    params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": str(step)}
    url = f"{prom.url.rstrip('/')}/api/v1/query_range"
    resp = await get(http, url, what="Prometheus", base=prom.url, timeout=timeout, params=params)
    try:
        answer = _Answer.model_validate_json(resp.content)
    except ValidationError:
        raise ProviderError(f"HTTP {resp.status_code} from Prometheus, not a Prometheus API answer") from None
    if answer.status != "success" or answer.data is None:
        reason = excerpt(answer.error or "no data")
        raise ProviderError(f"{answer.error_type or f'HTTP {resp.status_code}'}: {reason}")
    return [[(ts, float(v)) for ts, v in s.values] for s in answer.data.result]


async def _one(
    http: httpx.AsyncClient,
    prom: PrometheusIntegration,
    q: MetricQuery,
    alert_at: datetime,
    now: datetime,
    timeout: float,
) -> MetricSummary | str:
    """A summary, or why there is none (naming the query)."""
    start, end, step = query_window(alert_at, now)
    try:
        series = await within(timeout, _query_range(http, prom, q.query, start, end, step, timeout))
    except ProviderError as e:
        return f"{q.name} ({q.query}): {e}"
    return summarise(q, series, graph_link(prom, q.query), alert_at, start, end)


async def gather_metrics(
    http: httpx.AsyncClient,
    prom: PrometheusIntegration,
    queries: list[MetricQuery],
    alert_at: datetime,
    now: datetime,
    timeout: float,
) -> ContextPart:
    """Run every query at once, each within `timeout`. Never raises."""
    results = await asyncio.gather(*(_one(http, prom, q, alert_at, now, timeout) for q in queries))
    found = [r for r in results if isinstance(r, MetricSummary)]
    failed = [r for r in results if isinstance(r, str)]
    return ContextPart(
        provider="metrics",
        ok=bool(found) or not failed,
        error="; ".join(failed) or None,
        metrics=found,
    )
