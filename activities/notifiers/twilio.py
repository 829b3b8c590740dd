"""SMS and voice calls through Twilio's REST API (`integrations.twilio`, `people.NAME.phone`).

An SMS is `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with the headline and the incident's link; a call
is `POST .../Calls.json` whose TwiML reads the headline out twice. Both authenticate with HTTP basic auth
(AccountSid:AuthToken) and send form fields, as Twilio's API takes them. A call is placed for a page only: an
update or a question is better read than heard, and goes by the person's next method.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import httpx

from activities.http_rules import excerpt, retryable_exception, retryable_status
from activities.notifiers.base import NotifierError, NotifierReceipt, NotifyEnv, headline
from incident.config import Person, TwilioIntegration
from incident.models import Page, Recipient

SMS_MAX = 1600
"""Twilio refuses a longer message body."""
VOICE_MAX = 400
"""Characters of the headline read out: a call says what is wrong and where to look, not the whole page."""
NOT_FORWARDED = "not forwarded"


def sms_body(page: Page, link: str) -> str:
    """The headline, then the link to the incident, within Twilio's limit (the link is kept whole)."""
    tail = f"\n{link}" if link else ""
    head = headline(page)
    room = SMS_MAX - len(tail)
    if len(head) > room:
        head = head[: max(room - 1, 0)] + "…"
    return (head + tail)[:SMS_MAX]


def twiml(page: Page) -> str:
    """What the call says: the headline, twice, with its text escaped for XML."""
    said = headline(page)
    said = said if len(said) <= VOICE_MAX else said[: VOICE_MAX - 1] + "…"
    say = f"<Say>baton page. {escape(said)}</Say>"
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{say}<Pause length="1"/>{say}</Response>'


async def send_sms(
    env: NotifyEnv, person: Person, recipient: Recipient, page: Page, key: str, link: str
) -> NotifierReceipt:
    if page.kind == "status":
        return NotifierReceipt(detail=NOT_FORWARDED)
    return await _post(env, person, "Messages.json", {"Body": sms_body(page, link)}, "message")


async def send_voice(
    env: NotifyEnv, person: Person, recipient: Recipient, page: Page, key: str, link: str
) -> NotifierReceipt:
    if page.kind != "page":
        return NotifierReceipt(detail=NOT_FORWARDED)
    return await _post(env, person, "Calls.json", {"Twiml": twiml(page)}, "call")


async def _post(env: NotifyEnv, person: Person, resource: str, fields: dict[str, str], what: str) -> NotifierReceipt:
    twilio: TwilioIntegration | None = env.config.integrations.twilio
    if twilio is None:
        raise NotifierError("integrations.twilio is not configured", retryable=False)
    if person.phone is None:
        raise NotifierError("no phone is set for this person", retryable=False)
    token = twilio.auth_token.reveal()
    if not token:
        raise NotifierError(f"twilio auth token is not set ({twilio.auth_token!r})", retryable=False)
    url = f"{twilio.api_url.rstrip('/')}/2010-04-01/Accounts/{twilio.account_sid}/{resource}"
    form = {"To": person.phone, "From": twilio.from_} | fields
    try:
        resp = await env.http.post(
            url, data=form, auth=(twilio.account_sid, token), headers={"User-Agent": "baton"}, timeout=10.0
        )
    except httpx.HTTPError as e:
        raise NotifierError(f"twilio unreachable: {type(e).__name__}", retryable_exception(e)) from None
    if resp.status_code >= 300:
        raise NotifierError(f"twilio answered {resp.status_code}{_reason(resp)}", retryable_status(resp.status_code))
    sid = _field(resp, "sid")
    return NotifierReceipt(detail=f"twilio accepted the {what}" + (f" ({sid})" if sid else ""))


def _field(resp: httpx.Response, name: str) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    return str(body.get(name) or "") if isinstance(body, dict) else ""


def _reason(resp: httpx.Response) -> str:
    """Twilio's error code and message (`{"code": 21211, "message": "The 'To' number ... is not valid"}`)."""
    code, message = _field(resp, "code"), _field(resp, "message")
    text = " ".join(p for p in (f"error {code}" if code else "", excerpt(message) if message else "") if p)
    return f": {text}" if text else ""
