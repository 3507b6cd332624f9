"""Customers between Meta's form and wacc's.

Meta names a WhatsApp user by digits only ("15551234567"). The other engines name the
same person "15551234567@c.us" with phone "+15551234567"; the cloud engine uses the
same form so one customer is one contact whichever engine a session runs.

Since 2026 Meta also names every user by a business-scoped user id (BSUID,
"US.13491208655302741918": a country code, a dot, up to 128 letters and digits), and
a user who adopts a username may be named by it alone: no ``from``, no ``wa_id``. Such
a customer is ``Peer(wa_id="US.1349…@bsuid", phone=None)``; wacc keeps the id in the
contact's hidden-id column (like WhatsApp Web's ``@lid``), so when the phone number
shows up later the two are one contact.
"""

from __future__ import annotations

import re

from wacc.engines.contract import Peer, PermanentEngineError
from wacc.lib.text import only_digits

BSUID_SUFFIX = "@bsuid"
# Meta: "a two-letter ISO country code, a period, and up to 128 alphanumeric
# characters"; parent BSUIDs put "ENT." in between (US.ENT.1181…).
_BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$")


def peer_from_digits(digits: str, name: str | None = None) -> Peer:
    digits = only_digits(digits)
    return Peer(wa_id=f"{digits}@c.us", phone=f"+{digits}", name=name or None)


def is_bsuid(value: str) -> bool:
    return bool(_BSUID.match(value))


def peer_from_user_id(user_id: str, name: str | None = None) -> Peer:
    """A customer Meta names only by their business-scoped user id."""
    return Peer(wa_id=f"{user_id}{BSUID_SUFFIX}", name=name or None)


def user_id_of(peer: Peer) -> str | None:
    """The BSUID a peer stands for, if it is a BSUID peer."""
    if peer.wa_id.endswith(BSUID_SUFFIX):
        return peer.wa_id.removesuffix(BSUID_SUFFIX)
    return None


def recipient_digits(peer: Peer) -> str:
    """How Meta names *peer*: the phone digits, or the BSUID for a customer known only
    by it. It keys the 24-hour window and the Block Users API. Hidden ``@lid`` ids and
    groups have neither, so they are refused for good."""
    if peer.phone and only_digits(peer.phone):
        return only_digits(peer.phone)
    user, _, server = peer.wa_id.partition("@")
    if server in ("", "c.us", "s.whatsapp.net") and only_digits(user) == user and user:
        return user
    if server == BSUID_SUFFIX[1:] and is_bsuid(user):
        return user
    raise PermanentEngineError(
        f"the Cloud API can only message phone numbers and user ids, not {peer.wa_id!r}",
        code="BAD_RECIPIENT",
    )


def recipient_fields(peer: Peer) -> dict[str, str]:
    """The addressing part of a send: ``{"to": digits}`` for a phone number,
    ``{"recipient": BSUID}`` for a customer known only by their user id (Meta: "use
    ``to`` to send to a phone number, ``recipient`` to send to a BSUID"; with both,
    ``to`` wins, so a phone is always preferred)."""
    who = recipient_digits(peer)
    return {"recipient": who} if is_bsuid(who) else {"to": who}
