"""Phone numbers between Meta's form and wacc's.

Meta names a WhatsApp user by digits only ("15551234567"). The other engines name the
same person "15551234567@c.us" with phone "+15551234567"; the cloud engine uses the
same form so one customer is one contact whichever engine a session runs.
"""

from __future__ import annotations

from wacc.engines.contract import Peer, PermanentEngineError
from wacc.lib.text import only_digits


def peer_from_digits(digits: str, name: str | None = None) -> Peer:
    digits = only_digits(digits)
    return Peer(wa_id=f"{digits}@c.us", phone=f"+{digits}", name=name or None)


def recipient_digits(peer: Peer) -> str:
    """The ``to`` Meta expects for *peer*. Hidden ``@lid`` ids and groups have no
    phone number the Cloud API could message, so they are refused for good."""
    if peer.phone and only_digits(peer.phone):
        return only_digits(peer.phone)
    user, _, server = peer.wa_id.partition("@")
    if server in ("", "c.us", "s.whatsapp.net") and only_digits(user) == user and user:
        return user
    raise PermanentEngineError(
        f"the Cloud API can only message phone numbers, not {peer.wa_id!r}", code="BAD_RECIPIENT"
    )
