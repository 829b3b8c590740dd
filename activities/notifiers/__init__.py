"""Notifiers: one function per contact method, all with the same shape, chosen by the person's `notify` list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from activities.notifiers.base import Delivered, NotifierError
from activities.notifiers.log import send_log
from activities.notifiers.webhook import send_webhook
from incident.config import Person
from incident.models import Page, Recipient

Notifier = Callable[[httpx.AsyncClient, Person, Recipient, Page, str, str], Awaitable[Delivered]]

NOTIFIERS: dict[str, Notifier] = {"webhook": send_webhook, "log": send_log}

__all__ = ["NOTIFIERS", "Delivered", "Notifier", "NotifierError"]
