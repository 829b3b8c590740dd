"""Notifiers: one function per contact method, all with the same shape, chosen by the person's `notify` list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from activities.notifiers.base import NotifierError, NotifierReceipt, NotifyEnv
from activities.notifiers.email import send_email
from activities.notifiers.log import send_log
from activities.notifiers.pagerduty import send_pagerduty
from activities.notifiers.slack import send_slack
from activities.notifiers.twilio import send_sms, send_voice
from activities.notifiers.webhook import send_webhook
from incident.config import Person
from incident.models import Page, Recipient

Notifier = Callable[[NotifyEnv, Person, Recipient, Page, str, str], Awaitable[NotifierReceipt]]
"""(env, person, recipient, page, idempotency key, link to the incident) -> NotifierReceipt, or NotifierError."""

NOTIFIERS: dict[str, Notifier] = {
    "slack": send_slack,
    "email": send_email,
    "webhook": send_webhook,
    "pagerduty": send_pagerduty,
    "sms": send_sms,
    "voice": send_voice,
    "log": send_log,
}

__all__ = ["NOTIFIERS", "Notifier", "NotifierError", "NotifierReceipt", "NotifyEnv"]
