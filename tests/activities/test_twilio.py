"""SMS and voice against a real HTTP server on loopback playing Twilio's REST API: it checks the basic auth, the
account in the path and the form fields, and answers as Twilio does (201 with a sid, or an error with a code)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import httpx
import pytest

from activities.notifiers import NotifierError, NotifyEnv
from activities.notifiers.base import headline
from activities.notifiers.twilio import SMS_MAX, send_sms, send_voice
from incident.config import Config, ConfigError, parse_config
from incident.models import Page, Recipient, Severity, Status
from tests.activities.test_notifiers import LINK, page
from tests.helpers.http import HttpRequest, loopback_http

SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "twilio-auth-token-test"
FROM = "+15005550006"
PHONE = "+4917612345678"
RECIPIENT = Recipient(person="alice", display_name="Alice", methods=["sms", "voice"], via="user:alice")


@dataclass
class Twilio:
    """Twilio's Messages and Calls resources: what was accepted, and a switch to answer with an outage."""

    url: str = ""
    accepted: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    down: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def respond(self, r: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        def answer(status: int, body: dict[str, object]) -> tuple[int, dict[str, str], bytes]:
            return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

        expected = "Basic " + base64.b64encode(f"{SID}:{AUTH_TOKEN}".encode()).decode()
        if r.headers.get("Authorization") != expected:
            with self.lock:
                self.refused.append("auth")
            return answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
        if self.down:
            return answer(503, {"code": 20500, "message": "Internal Server Error", "status": 503})
        prefix = f"/2010-04-01/Accounts/{SID}/"
        resource = r.path.removeprefix(prefix)
        if r.method != "POST" or not r.path.startswith(prefix) or resource not in ("Messages.json", "Calls.json"):
            return answer(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
        if not r.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return answer(400, {"code": 21100, "message": "form-encoded body expected", "status": 400})
        form = {k: v[0] for k, v in parse_qs(r.body.decode()).items()}
        need = ["To", "From", "Body" if resource == "Messages.json" else "Twiml"]
        if missing := [k for k in need if not form.get(k)]:
            return answer(400, {"code": 21604, "message": f"A '{missing[0]}' is required", "status": 400})
        if not form["To"].startswith("+"):
            return answer(400, {"code": 21211, "message": f"The 'To' number {form['To']} is not valid", "status": 400})
        with self.lock:
            self.accepted.append((resource, form))
        prefix_sid = "SM" if resource == "Messages.json" else "CA"
        return answer(201, {"sid": f"{prefix_sid}{len(self.accepted):032x}", "status": "queued"})


@pytest.fixture
def twilio() -> Iterator[Twilio]:
    api = Twilio()
    with loopback_http(api.respond) as url:
        api.url = url
        yield api


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def config(api_url: str, token: str = AUTH_TOKEN) -> Config:
    return parse_config(
        f"""
people:
  alice: {{name: Alice, phone: "{PHONE}", notify: [sms, voice]}}
escalation_policies:
  one: {{levels: [{{notify: [user:alice], after: 5m}}]}}
services:
  checkout: {{escalation: one}}
integrations:
  twilio: {{account_sid: {SID}, auth_token: {token}, from: "{FROM}", api_url: "{api_url}"}}
"""
    )


async def deliver(notifier: object, cfg: Config, http: httpx.AsyncClient, pg: Page) -> object:
    send = send_sms if notifier == "sms" else send_voice
    return await send(
        NotifyEnv(http=http, config=cfg), cfg.people["alice"], RECIPIENT, pg, "wf/INC/page/1/1/alice", LINK
    )


async def test_sms_posts_the_headline_and_link_as_form_fields(twilio: Twilio, http: httpx.AsyncClient) -> None:
    receipt = await deliver("sms", config(twilio.url), http, page())
    assert "twilio accepted the message (SM" in receipt.detail  # type: ignore[attr-defined]
    [(resource, form)] = twilio.accepted
    assert resource == "Messages.json"
    assert form["To"] == PHONE and form["From"] == FROM
    assert form["Body"] == f"{headline(page())}\n{LINK}"


async def test_sms_stays_within_twilios_limit_and_keeps_the_link(twilio: Twilio, http: httpx.AsyncClient) -> None:
    await deliver("sms", config(twilio.url), http, page(title="x" * 5000))
    body = twilio.accepted[0][1]["Body"]
    assert len(body) <= SMS_MAX and body.endswith(LINK)


async def test_voice_calls_with_twiml_that_says_the_headline(twilio: Twilio, http: httpx.AsyncClient) -> None:
    receipt = await deliver("voice", config(twilio.url), http, page(title="db <down> & out"))
    assert "twilio accepted the call (CA" in receipt.detail  # type: ignore[attr-defined]
    [(resource, form)] = twilio.accepted
    assert resource == "Calls.json" and form["To"] == PHONE and form["From"] == FROM
    assert form["Twiml"].startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Say>')
    assert "db &lt;down&gt; &amp; out" in form["Twiml"] and "<down>" not in form["Twiml"]


async def test_voice_places_calls_for_pages_only(twilio: Twilio, http: httpx.AsyncClient) -> None:
    for kind in ("update", "recovered", "notice"):
        receipt = await deliver("voice", config(twilio.url), http, page(kind, thread="x"))
        assert receipt.detail == "not forwarded"  # type: ignore[attr-defined]
    assert twilio.accepted == []


async def test_a_wrong_auth_token_is_not_retried(twilio: Twilio, http: httpx.AsyncClient) -> None:
    with pytest.raises(NotifierError) as err:
        await deliver("sms", config(twilio.url, token="wrong"), http, page())
    assert not err.value.retryable and "401" in str(err.value) and "error 20003" in str(err.value)
    assert twilio.refused == ["auth"]


async def test_an_outage_is_retried(twilio: Twilio, http: httpx.AsyncClient) -> None:
    twilio.down = True
    with pytest.raises(NotifierError) as err:
        await deliver("voice", config(twilio.url), http, page(severity=Severity.SEV0, status=Status.TRIGGERED))
    assert err.value.retryable and "503" in str(err.value)


def test_config_needs_a_phone_and_the_integration_for_sms() -> None:
    with pytest.raises(ConfigError, match="no phone is set"):
        parse_config(
            "people: {alice: {notify: [sms]}}\n"
            "escalation_policies: {one: {levels: [{notify: [user:alice], after: 5m}]}}\n"
            "services: {checkout: {escalation: one}}\n"
        )
    with pytest.raises(ConfigError, match=r"integrations\.twilio"):
        parse_config(
            f'people: {{alice: {{phone: "{PHONE}", notify: [voice]}}}}\n'
            "escalation_policies: {one: {levels: [{notify: [user:alice], after: 5m}]}}\n"
            "services: {checkout: {escalation: one}}\n"
        )
    with pytest.raises(ConfigError, match=r"E\.164"):
        parse_config(
            'people: {alice: {phone: "017612345678"}}\n'
            "escalation_policies: {one: {levels: [{notify: [user:alice], after: 5m}]}}\n"
            "services: {checkout: {escalation: one}}\n"
        )
