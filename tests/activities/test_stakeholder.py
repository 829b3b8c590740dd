"""`post_stakeholder_update` against a Slack Web API and an SMTP server (aiosmtpd) on loopback: what each receives,
and which failures are retried (Slack's 429 with its Retry-After, SMTP 4xx) and which are answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from aiosmtpd.controller import Controller
from temporalio.exceptions import ApplicationError

from activities.stakeholder import StakeholderActivities
from incident.config import Config
from tests.activities.test_notifiers import Fake, Mailbox, Request, fake
from tests.helpers.config import make_config
from tests.helpers.http import free_port
from workflows.messages import PostUpdateRequest

__all__ = ["fake"]  # the Slack Web API double's fixture
BOT = "xoxb-stakeholder-test"


def post(audience: str, text: str = "Checkout errors in eu-west; <!here> next update 03:00") -> PostUpdateRequest:
    return PostUpdateRequest(
        incident_id="INC-7K2Q9M",
        workflow_id="incident:test:k",
        service="checkout",
        title="checkout 5xx\nabove 5%",
        update_id="U2",
        audience=audience,
        text=text,
        key=f"INC-7K2Q9M/U2/{audience}",
    )


def config(slack_url: str = "", smtp_port: int = 0) -> Config:
    lines = ""
    if slack_url:
        lines += f'  slack: {{bot_token: "{BOT}", api_url: "{slack_url}"}}\n'
    if smtp_port:
        lines += f"  smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: baton@example.com, starttls: false}}\n"
    return make_config(extra=lines)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


async def test_slack_gets_one_chat_post_message_with_the_bot_token_and_text_shown_as_written(
    fake: Fake, http: httpx.AsyncClient
) -> None:
    fake.reply = lambda req: (200, {}, {"ok": True, "channel": "C1", "ts": "1700000000.000200"})
    posted = await StakeholderActivities(config(fake.url), http).post_update(post("slack:#support"))
    assert posted.ok and "1700000000.000200" in posted.detail
    [req] = fake.requests
    assert req.path == "/chat.postMessage" and req.headers["Authorization"] == f"Bearer {BOT}"
    assert req.headers["Content-Type"].startswith("application/json")
    body = req.json()
    assert body["channel"] == "#support" and body["unfurl_links"] is False
    assert body["text"] == "Checkout errors in eu-west; &lt;!here&gt; next update 03:00", "no mention from the text"


async def test_slack_rate_limit_is_retried_after_its_wait_and_a_refusal_is_an_answer(
    fake: Fake, http: httpx.AsyncClient
) -> None:
    activities = StakeholderActivities(config(fake.url), http)
    fake.reply = lambda req: (429, {"Retry-After": "7"}, {"ok": False, "error": "ratelimited"})
    with pytest.raises(ApplicationError) as err:
        await activities.post_update(post("slack:#support"))
    assert not err.value.non_retryable and err.value.next_retry_delay == timedelta(seconds=7)

    def refused(req: Request) -> tuple[int, dict[str, str], object]:
        return 200, {}, {"ok": False, "error": "channel_not_found"}

    fake.reply = refused
    posted = await activities.post_update(post("slack:#nowhere"))
    assert not posted.ok and "channel_not_found" in posted.detail
    fake.reply = lambda req: (503, {}, {})
    with pytest.raises(ApplicationError):
        await activities.post_update(post("slack:#support"))


async def test_email_is_plain_text_with_a_message_id_from_the_key(
    smtp: tuple[Mailbox, int], http: httpx.AsyncClient
) -> None:
    box, port = smtp
    activities = StakeholderActivities(config(smtp_port=port), http)
    first = await activities.post_update(post("email:support@example.com"))
    again = await activities.post_update(post("email:support@example.com"))
    assert first.ok and again.ok and "support@example.com" in first.detail
    one, two = box.messages
    assert one["Message-ID"] == two["Message-ID"], "a retried post is recognisably the same message"
    assert one["To"] == "support@example.com" and one["From"] == "baton@example.com"
    assert one["Subject"] == "[INC-7K2Q9M] Stakeholder update 2: checkout 5xx above 5%"
    assert one["Auto-Submitted"] == "auto-generated" and one.get_content_type() == "text/plain"
    assert "<!here>" in one.get_content(), "email shows the text as written"


async def test_email_refused_or_down_and_nothing_configured(smtp: tuple[Mailbox, int], http: httpx.AsyncClient) -> None:
    box, port = smtp
    box.refuse = "550 5.1.1 no such list"
    refused = await StakeholderActivities(config(smtp_port=port), http).post_update(post("email:nobody@example.com"))
    assert not refused.ok and "550" in refused.detail
    box.refuse = "451 4.3.0 try again later"
    with pytest.raises(ApplicationError):
        await StakeholderActivities(config(smtp_port=port), http).post_update(post("email:support@example.com"))
    bare = StakeholderActivities(config(), http)
    assert "integrations.slack" in (await bare.post_update(post("slack:#support"))).detail
    assert "integrations.smtp" in (await bare.post_update(post("email:support@example.com"))).detail


async def test_a_drill_posts_nothing(fake: Fake, http: httpx.AsyncClient) -> None:
    posted = await StakeholderActivities(config(fake.url), http, dry_run=True).post_update(post("slack:#support"))
    assert posted.ok and posted.dry_run and fake.requests == []
