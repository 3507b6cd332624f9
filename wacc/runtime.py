"""What services need from the outside world, built once by a composition root."""

from __future__ import annotations

from dataclasses import dataclass

from wacc.config import Settings
from wacc.mail import Mailer
from wacc.security.crypto import Keyring
from wacc.security.limits import Limiter, make_limiter


@dataclass
class Runtime:
    settings: Settings
    keyring: Keyring
    limiter: Limiter
    mailer: Mailer

    @classmethod
    def build(cls, settings: Settings, keyring: Keyring) -> Runtime:
        return cls(
            settings=settings, keyring=keyring, limiter=make_limiter(settings),
            mailer=Mailer(settings.smtp),
        )
