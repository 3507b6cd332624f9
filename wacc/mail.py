"""Outgoing e-mail over SMTP (stdlib smtplib, run off the event loop)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage

from wacc.config import SmtpSettings
from wacc.logs import get_logger

log = get_logger(__name__)


class Mailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    @property
    def enabled(self) -> bool:
        return bool(self.settings.host)

    async def send(self, to: str, subject: str, body: str) -> bool:
        """Send one message; returns False (and logs why) instead of raising."""
        if not self.enabled:
            return False
        try:
            await asyncio.wait_for(asyncio.to_thread(self._send, to, subject, body), 30)
        except Exception as exc:
            log.warning("e-mail not sent", to_domain=to.split("@")[-1], error=type(exc).__name__)
            return False
        return True

    def _send(self, to: str, subject: str, body: str) -> None:
        s = self.settings
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = s.sender, to, subject
        msg.set_content(body)
        context = ssl.create_default_context()
        if s.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=20, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=20)
        with smtp:
            if s.security == "starttls":
                smtp.starttls(context=context)
            if s.username:
                smtp.login(s.username, s.password)
            smtp.send_message(msg)
