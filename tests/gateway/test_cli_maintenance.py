"""`baton maintenance` as a user runs it, against the gateway on a dev server: start, list, show, end, with --json
shapes and exit codes (2 for bad input, before anything is sent)."""

from __future__ import annotations

from tests.gateway.test_cli import TRIAGE, Cli, open_incident, stack
from tests.helpers.temporal import Harness
from tests.helpers.wait import until

__all__ = ["stack"]


async def test_a_window_from_the_command_line(stack: tuple[Cli, Harness]) -> None:
    baton, h = stack
    iid = await open_incident(h)
    started = await baton("maintenance", "start", "checkout", "--for", "2h", "-m", "db migration", "--json")
    assert started.code == 0, started.err
    window = started.json
    assert window["status"] == "open" and window["target"] == "checkout" and window["opened_by"] == "human:alice"
    assert window["message"] == "db migration"

    async def held() -> bool:
        return (await h.incidents.state(iid)).maintenance is not None

    await until(held)
    shown = await baton("show", iid)
    assert shown.code == 0 and f"{window['id']} holds escalation" in shown.out and "db migration" in shown.out

    listed = await baton("maintenance", "list", "--json")
    assert listed.code == 0 and [w["id"] for w in listed.json if w["status"] == "open"] == [window["id"]]
    table = await baton("maintenance", "list")
    assert table.code == 0 and window["id"] in table.out and "open" in table.out
    one = await baton("maintenance", "show", window["id"].lower())
    assert one.code == 0 and "holds escalation of" in one.out

    ended = await baton("maintenance", "end", window["id"], "--json")
    assert ended.code == 0 and ended.json["status"] == "ended" and ended.json["ended_by"] == "human:alice"

    async def released() -> bool:
        return (await h.incidents.state(iid)).maintenance is None

    await until(released)


async def test_bad_input_exits_2_and_an_agent_needs_a_person(stack: tuple[Cli, Harness]) -> None:
    baton, _ = stack
    for args, says in [
        (("checkout", "--for", "0s"), "positive"),
        (("checkout", "--for", "8d"), "at most 7d"),
        (("checkout", "--for", "soon"), "--for"),
        (("checkout billing", "--for", "1h"), "two services"),
        (("nosuch", "--for", "1h"), "no service 'nosuch'"),
        (("checkout", "--for", "1h", "-m", "x" * 501), "at most 500"),
    ]:
        got = await baton("maintenance", "start", *args)
        assert got.code == 2 and says in got.err, (args, got.code, got.err)
    assert (await baton("maintenance", "show", "INC-123456")).code == 2
    agent = await baton("maintenance", "start", "checkout", "--for", "1h", token=TRIAGE)
    assert agent.code == 1 and "boundaries.agent.approval" in agent.err and "ask a person" in agent.err
