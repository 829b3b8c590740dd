"""Mutated real payloads for the intake: the fixtures' Alertmanager, Grafana, Datadog and events bodies made huge,
deep, malformed, wrongly typed, badly encoded, or carrying ids that collide or hide control characters.

Each mutation says what answer it must get ("2xx", "4xx", or "any" answer but a 5xx) and, when it is accepted
and opens an incident, the key that incident is for: distinct keys must make distinct incidents.
"""

from __future__ import annotations

import gzip
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

FIXTURES = Path(__file__).parents[1] / "fixtures"
Expect = Literal["2xx", "4xx", "any"]


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    body: bytes
    expect: Expect
    identity: tuple[str, ...] | None = None
    """(source, scope..., key) of the incident it opens if accepted (even one that should be refused): None when
    it cannot open one"""
    headers: dict[str, str] = field(default_factory=dict)
    auth: bool = True


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


def dumps(body: Any) -> bytes:
    return json.dumps(body).encode()


def nested(depth: int) -> dict[str, Any]:
    inner: dict[str, Any] = {"leaf": "x"}
    for _ in range(depth - 1):
        inner = {"n": inner}
    return inner


def _event(key: str, routing_key: str = "checkout", **payload: Any) -> dict[str, Any]:
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {"summary": f"fuzz {key}", "source": "fuzz", "severity": "error"} | payload,
    }


def _am(group: str, labels: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    body = fixture("alertmanager_firing.json")
    body["groupKey"] = f'{{}}:{{alertname="{group}"}}'
    for a in body["alerts"]:
        a["labels"] = a["labels"] | (labels or {})
    return body | top


def _grafana(group: str, **top: Any) -> dict[str, Any]:
    body = fixture("grafana_firing.json")
    body["groupKey"] = group
    return body | top


def _datadog(cycle: str, **top: Any) -> dict[str, Any]:
    return fixture("datadog_triggered.json") | {"alert_cycle_key": cycle} | top


def corpus() -> list[Mutation]:
    """Every mutation, with fresh keys (the deep one last: a server that chokes on it should not hide the rest)."""
    run = uuid.uuid4().hex[:6]
    k = lambda name: f"{name}-{run}"  # noqa: E731
    am_group = lambda name: f'{{}}:{{alertname="{k(name)}"}}'  # noqa: E731
    m: list[Mutation] = [
        # the real payloads, as they come
        Mutation("events as sent", "/v1/events", dumps(_event(k("ok"))), "2xx", ("events", "checkout", k("ok"))),
        Mutation("alertmanager as sent", "/v1/alerts/alertmanager", dumps(_am(k("am"))), "2xx", ("am", am_group("am"))),
        Mutation("grafana as sent", "/v1/alerts/grafana", dumps(_grafana(k("gf"))), "2xx", ("grafana", "1", k("gf"))),
        Mutation("datadog as sent", "/v1/alerts/datadog", dumps(_datadog(k("dd"))), "2xx", ("dd", "480312", k("dd"))),
        # ids with the separator: two streams, two incidents
        Mutation(
            "routing key with ':' (1 of 2)",
            "/v1/events",
            dumps(_event("5xx-" + run, routing_key="team:checkout")),
            "2xx",
            ("events", "team:checkout", "5xx-" + run),
        ),
        Mutation(
            "dedup key with ':' (2 of 2)",
            "/v1/events",
            dumps(_event("checkout:5xx-" + run, routing_key="team")),
            "2xx",
            ("events", "team", "checkout:5xx-" + run),
        ),
        Mutation(
            "datadog org with ':' (1 of 2)",
            "/v1/alerts/datadog",
            dumps(_datadog(f"0312:{run}", org_id="48")),
            "2xx",
            ("dd", "48", f"0312:{run}"),
        ),
        Mutation(
            "datadog key with ':' (2 of 2)",
            "/v1/alerts/datadog",
            dumps(_datadog(run, org_id="48:0312")),
            "2xx",
            ("dd", "48:0312", run),
        ),
        # control characters and NUL in ids are refused
        Mutation(
            "NUL in a dedup key",
            "/v1/events",
            dumps(_event(k("nul") + "\x00x")),
            "4xx",
            ("events", "checkout", k("nul") + "\x00x"),
        ),
        Mutation(
            "control characters in a dedup key",
            "/v1/events",
            dumps(_event(k("ctl") + "\x1b[2J\x07")),
            "4xx",
            ("events", "checkout", k("ctl") + "\x1b[2J\x07"),
        ),
        Mutation(
            "NUL in a routing key",
            "/v1/events",
            dumps(_event(k("nulrk"), routing_key="check\x00out")),
            "4xx",
            ("events", "check\x00out", k("nulrk")),
        ),
        # too long, too big, too deep
        Mutation(
            "grafana orgId of 1,000 digits",
            "/v1/alerts/grafana",
            b'{"orgId": ' + b"9" * 1000 + b", " + dumps(_grafana(k("gfbig")))[1:].replace(b'"orgId": 1,', b""),
            "any",
            ("grafana", "9" * 1000, k("gfbig")),
        ),
        Mutation(
            "900 kB of custom_details",
            "/v1/events",
            dumps(_event(k("huge"), custom_details={"blob": "x" * 900_000})),
            "any",
            ("events", "checkout", k("huge")),
        ),
        Mutation("2 MB body", "/v1/events", dumps(_event(k("2mb"), custom_details={"blob": "x" * 2_000_000})), "4xx"),
        Mutation(
            "alertmanager labels of 200 kB",
            "/v1/alerts/alertmanager",
            dumps(_am(k("amhuge"), labels={"big": "y" * 200_000})),
            "any",
            ("am", am_group("amhuge")),
        ),
        # not JSON, or not the JSON we take
        Mutation("malformed JSON", "/v1/events", b'{"routing_key": "checkout", "event_action": ', "4xx"),
        Mutation("JSON but a list", "/v1/events", b"[1, 2, 3]", "4xx"),
        Mutation("empty body", "/v1/alerts/alertmanager", b"", "4xx"),
        Mutation(
            "invalid UTF-8",
            "/v1/events",
            dumps(_event(k("utf8"))).replace(b"fuzz ", b"fuzz \xff\xfe "),
            "4xx",
        ),
        Mutation(
            "gzip body",
            "/v1/events",
            gzip.compress(dumps(_event(k("gz")))),
            "any",
            ("events", "checkout", k("gz")),
            headers={"Content-Encoding": "gzip"},
        ),
        Mutation(
            "lone surrogate in a label",
            "/v1/alerts/alertmanager",
            dumps(_am(k("surrogate"), labels={"PLACEHOLDER": "v"})).replace(b"PLACEHOLDER", b"\\ud800x"),
            "any",
            ("am", am_group("surrogate")),
        ),
        Mutation(
            "lone surrogate in a label value",
            "/v1/alerts/alertmanager",
            dumps(_am(k("surrval"), labels={"team": "PLACEHOLDER"})).replace(b"PLACEHOLDER", b"\\udc80"),
            "any",
            ("am", am_group("surrval")),
        ),
        Mutation(
            "lone surrogate in a summary",
            "/v1/events",
            dumps(_event(k("surr2"))).replace(b"fuzz ", b"fuzz \\udfff "),
            "any",
            ("events", "checkout", k("surr2")),
        ),
        # wrong types are refused, not read as something else
        Mutation(
            "grafana orgId false",
            "/v1/alerts/grafana",
            dumps(_grafana(k("gffalse"), orgId=False)),
            "4xx",
            ("grafana", "false", k("gffalse")),
        ),
        Mutation(
            "grafana orgId as a string",
            "/v1/alerts/grafana",
            dumps(_grafana(k("gfstr"), orgId="1")),
            "any",
            ("grafana", "1", k("gfstr")),
        ),
        Mutation("alerts not a list", "/v1/alerts/alertmanager", dumps(_am(k("amtype"), alerts={"a": 1})), "4xx"),
        Mutation(
            "severity a number",
            "/v1/events",
            dumps(_event(k("sevnum"), severity=3)),
            "4xx",
            ("events", "checkout", k("sevnum")),
        ),
        Mutation("summary null", "/v1/events", dumps(_event(k("sumnull"), summary=None)), "4xx"),
        Mutation(
            "datadog date nan",
            "/v1/alerts/datadog",
            dumps(_datadog(k("ddnan"), date="nan")),
            "4xx",
            ("dd", "480312", k("ddnan")),
        ),
        Mutation(
            "datadog date inf",
            "/v1/alerts/datadog",
            dumps(_datadog(k("ddinf"), date="1e400")),
            "4xx",
            ("dd", "480312", k("ddinf")),
        ),
        # changes
        Mutation(
            "change at a time without a zone",
            "/v1/changes",
            dumps({"service": "checkout", "version": run, "time": "2026-11-26T14:40:00"}),
            "any",
        ),
        Mutation(
            "an alert after the change without a zone",
            "/v1/events",
            dumps(_event(k("afterchange"))),
            "2xx",
            ("events", "checkout", k("afterchange")),
        ),
        Mutation("change of an unknown service", "/v1/changes", dumps({"service": "nope-" + run}), "4xx"),
        # auth before the body
        Mutation("no token and bad JSON", "/v1/alerts/alertmanager", b"{nope", "4xx", auth=False),
        # the deep one last
        Mutation(
            "custom_details nested 900 deep",
            "/v1/events",
            dumps(_event(k("deep"), custom_details=nested(900))),
            "any",
            ("events", "checkout", k("deep")),
        ),
    ]
    return m


def expected_status(m: Mutation, status: int) -> bool:
    if m.expect == "2xx":
        return 200 <= status < 300
    if m.expect == "4xx":
        return 400 <= status < 500
    return status < 500
