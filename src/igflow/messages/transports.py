"""Where a message goes: an SMTP server, an SMS provider, or (demo, development) nowhere but the staff
Mailbox page. A transport raises :class:`SendError` when the message did not go; anything it returns is
the provider's reference for it."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

from igflow.config import Settings


class SendError(Exception):
    """The message was not accepted; ``retry`` says whether a later attempt may succeed."""

    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class Transport(Protocol):
    def send(self, message_id: int, channel: str, to: str, subject: str, body: str) -> str: ...


class MailboxTransport:
    """Sends nothing: the message is kept as sent and read on the Mailbox page (the demo's default)."""

    def send(self, message_id: int, channel: str, to: str, subject: str, body: str) -> str:
        return f"mailbox:{message_id}"


class SmsProvider(Protocol):
    """An SMS gateway (none is configured in this version: a deployment plugs its provider in here)."""

    def send_sms(self, to: str, body: str, reference: str) -> str: ...


class SmtpTransport:
    """Email over SMTP with STARTTLS or TLS and credentials from the settings. Each message carries a
    Message-ID made from its outbox id, so a mail system that sees it twice can tell."""

    def __init__(self, settings: Settings, sms: SmsProvider | None = None, timeout_s: float = 20.0) -> None:
        self.settings = settings
        self.sms = sms
        self.timeout_s = timeout_s

    def send(self, message_id: int, channel: str, to: str, subject: str, body: str) -> str:
        if channel == "sms":
            if self.sms is None:
                raise SendError("no SMS provider is configured", retry=False)
            return self.sms.send_sms(to, body, f"igflow-{message_id}")
        s = self.settings
        if not s.smtp_host:
            raise SendError("IGFLOW_SMTP_HOST is not set", retry=False)
        email = EmailMessage()
        email["From"] = s.mail_from
        email["To"] = to
        email["Subject"] = subject
        msgid = make_msgid(idstring=f"igflow-{message_id}", domain="igflow.invalid")
        email["Message-ID"] = msgid
        email.set_content(body)
        try:
            if s.smtp_security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=self.timeout_s, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout_s)
            with client:
                if s.smtp_security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if s.smtp_username:
                    password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                    client.login(s.smtp_username, password)
                refused = client.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendError(f"the server refused the address ({type(exc).__name__})", retry=False) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(
                f"the mail server could not be reached or refused it ({type(exc).__name__})"
            ) from None
        if refused:
            raise SendError("the server refused the address", retry=False)
        return msgid


def transport_for(settings: Settings) -> Transport:
    return SmtpTransport(settings) if settings.mail_mode == "smtp" else MailboxTransport()
