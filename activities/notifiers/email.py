"""The email notifier: a multipart/alternative message over SMTP, threaded by Message-ID.

smtplib is blocking, so it runs in a thread. The Message-ID comes from the idempotency key: a retried delivery
carries the same id, and updates reply to it so mail clients keep the incident in one conversation.
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from activities.notifiers import render
from activities.notifiers.base import NotifierError, NotifierReceipt, NotifyEnv, headline
from incident.config import Person, SmtpIntegration
from incident.models import Page, Recipient

TIMEOUT_S = 10.0


def message_id(key: str, sender: str) -> str:
    """Stable for one delivery (the key survives retries), unique across deliveries, in the sender's domain."""
    domain = sender.rpartition("@")[2] or "baton.invalid"
    return f"<baton.{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def compose(page: Page, sender: str, to: str, key: str, link: str, tz: str = "UTC") -> EmailMessage:
    msg = EmailMessage()
    subject = " ".join(headline(page).split())  # an alert title with a line break must not break the header
    msg["Subject"] = f"Re: {subject}" if page.kind == "update" and page.thread else subject
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id(key, sender)
    if page.kind != "page" and page.thread:
        msg["In-Reply-To"] = page.thread
        msg["References"] = page.thread
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the pager
    msg["X-Baton-Incident"] = page.incident_id
    msg.set_content(render.text(page, link, tz))
    msg.add_alternative(render.html(page, link, tz), subtype="html")
    return msg


def _deliver(smtp: SmtpIntegration, password: str | None, msg: EmailMessage) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if smtp.ssl:
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=TIMEOUT_S, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT_S)
    with client:
        if smtp.starttls and not smtp.ssl:
            client.starttls(context=context)
        if smtp.username:
            client.login(smtp.username, password or "")
        client.send_message(msg)


def _error(e: Exception) -> NotifierError:
    """4xx and broken connections are worth another try; 5xx means the server or the address said no."""
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in e.recipients.values()]
        return NotifierError(f"smtp refused the recipient: {codes}", retryable=all(400 <= c < 500 for c in codes))
    if isinstance(e, smtplib.SMTPResponseException) and 400 <= e.smtp_code < 600:
        reply = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        return NotifierError(f"smtp answered {e.smtp_code} {reply[:200]}", retryable=e.smtp_code < 500)
    if isinstance(e, smtplib.SMTPNotSupportedError):
        return NotifierError(f"smtp server does not support it: {e} (check integrations.smtp)", retryable=False)
    if isinstance(e, ssl.SSLCertVerificationError):
        return NotifierError(f"smtp certificate rejected: {e.verify_message}", retryable=False)
    return NotifierError(f"smtp unreachable: {type(e).__name__}: {e}")


async def send_email(
    env: NotifyEnv, person: Person, recipient: Recipient, page: Page, key: str, link: str
) -> NotifierReceipt:
    smtp = env.config.integrations.smtp
    if smtp is None or not person.email:
        raise NotifierError("email is not configured for this person (integrations.smtp and email)", retryable=False)
    password = smtp.password.reveal() if smtp.password else None
    if smtp.username and not password:
        raise NotifierError(f"smtp password is not set ({smtp.password!r})", retryable=False)
    msg = compose(page, smtp.sender, person.email, key, link, person.timezone)
    try:
        await asyncio.to_thread(_deliver, smtp, password, msg)
    except (smtplib.SMTPException, OSError) as e:
        raise _error(e) from None
    return NotifierReceipt(detail=f"email accepted by {smtp.host} for {person.email}", thread=str(msg["Message-ID"]))
