"""What the demo organization holds: people, what they write, and the team's answers.

Plain data, kept apart from the code that stores it so the story can change without
touching the seeding. Phone numbers come from ranges reserved for fiction (US
555-01xx, UK 07700 900xxx, Australia 0491 570 xxx): valid for wacc, nobody's phone.
"""

from __future__ import annotations

import base64
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

ORG_SLUG = "demo"
ORG_NAME = "Demo Coffee Co."
OWNER_EMAIL = "demo@wacc.local"
OWNER_NAME = "Dana Brewer"
AGENT_EMAIL = "agent@wacc.local"
AGENT_NAME = "Sam Barista"
# The password policy refuses a password that contains the e-mail's local part, so
# "demo-…" cannot be the password of demo@wacc.local. It is public on purpose: the
# demo is for trying wacc out, never for real data.
PASSWORD = "wacc-password-123"  # noqa: S105 - published: the demo is for trying out

SESSION_NAME = "Shop phone"
SESSION_PHONE = "+447700900001"

TAGS = {"vip": "#d4a017", "order": "#2e86de", "complaint": "#e74c3c", "lead": "#27ae60"}

CUSTOM_FIELDS: list[dict[str, Any]] = [
    {"name": "Loyalty tier", "key": "loyalty_tier", "type": "SELECT",
     "options": ["Bronze", "Silver", "Gold"]},
    {"name": "Favourite drink", "key": "favourite_drink", "type": "TEXT"},
]

HOURS = "Mon-Fri 7:00-19:00, Sat-Sun 8:00-17:00"
CANNED = {
    "hours": f"We're open {HOURS}. See you soon! ☕",
    "thanks": "Thank you for choosing Demo Coffee Co. Have a lovely day!",
    "menu": "Today: espresso, flat white, oat latte, cold brew, butter croissants and "
            "banana bread. Ask us about seasonal specials!",
}

AUTOMATION: dict[str, Any] = {
    "name": "Opening hours",
    "description": "Answers any message that mentions our hours.",
    "trigger": {"type": "message.received", "match": "keywords", "keywords": ["hours"],
                "mode": "word"},
    "actions": [{"type": "send_message",
                 "text": "Hi {{contact.name}}! " + ORG_NAME + " is open " + HOURS + "."}],
}


@dataclass(frozen=True)
class Step:
    """One message of a conversation. ``inbound`` ones are typed on the customer's
    phone (the simulator); the others are a teammate's replies from the inbox.
    ``minutes_ago`` backdates an inbound message; None means now."""

    inbound: bool
    body: str | None = None
    type: str = "TEXT"
    minutes_ago: int | None = None
    by: str = "agent"  # owner | agent (replies only)
    extra: dict[str, Any] = field(default_factory=dict)  # media, location, vcard


@dataclass(frozen=True)
class Person:
    name: str
    phone: str
    email: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    # The conversation, when this person wrote to the shop.
    steps: tuple[Step, ...] = ()
    status: str = "OPEN"
    priority: str | None = None
    assignee: str | None = None  # owner | agent
    conversation_tags: tuple[str, ...] = ()
    note: str | None = None


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG, made here so the demo ships no binary files."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height))
            + chunk(b"IEND", b""))


def photo() -> dict[str, Any]:
    return {"mimeType": "image/png", "filename": "latte.png",
            "data": base64.b64encode(_png(64, 48, (111, 78, 55))).decode()}


VCARD = ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Emma Martin\r\n"
         "TEL;type=CELL;waid=12025550164:+1 202-555-0164\r\nEND:VCARD")

PEOPLE: tuple[Person, ...] = (
    Person(
        "Maya Thompson", "+12025550143", email="maya.thompson@example.com",
        fields={"loyalty_tier": "Gold", "favourite_drink": "Oat flat white"}, tags=("vip",),
        steps=(
            Step(True, "Hi! Can I pre-order 12 butter croissants for Saturday morning?",
                 minutes_ago=42),
            Step(True, "Pickup around 9 if possible 🙂", minutes_ago=41),
            Step(False, "Hi Maya! 12 butter croissants for Saturday at 9:00 are on the list. "
                        "Anything to drink with that?"),
            Step(True, "Two oat flat whites please, thank you!"),
        ),
        status="OPEN", priority="HIGH", assignee="agent", conversation_tags=("order",),
    ),
    Person(
        "Liam O'Connor", "+447700900123", fields={"loyalty_tier": "Silver"},
        steps=(
            Step(True, "My latte this morning was cold and the lid leaked all over my bag 😕",
                 minutes_ago=95),
            Step(True, "This is what was left of it", type="IMAGE", minutes_ago=94,
                 extra={"media": photo()}),
            Step(False, "So sorry, Liam, that's not the coffee we want to serve. Your next two "
                        "drinks are on us: just show this chat at the counter."),
        ),
        status="PENDING", assignee="agent", conversation_tags=("complaint",),
        note="Offered two free drinks. Lids from the new supplier leak again; "
             "@demo@wacc.local can you call them?",
    ),
    Person(
        "Sofia Rossi", "+61491570156", email="sofia.rossi@example.com",
        fields={"favourite_drink": "Cold brew"},
        steps=(
            Step(True, "Hello! Which of your shops is closest to me?", minutes_ago=26 * 60),
            Step(True, type="LOCATION", minutes_ago=26 * 60 - 1,
                 extra={"location": {"latitude": 51.5129, "longitude": -0.1243,
                                     "name": "Covent Garden", "address": "London WC2E"}}),
            Step(False, "Our Market Street shop is a 5-minute walk from there. Enjoy!",
                 by="owner"),
        ),
        status="RESOLVED", assignee="owner",
    ),
    Person(
        "Kenji Watanabe", "+12025550178",
        steps=(Step(True, "What are your opening hours on Sunday?", minutes_ago=7),),
        status="OPEN",
    ),
    Person(
        "Amara Okafor", "+447700900456", email="amara@okafor-design.example", tags=("lead",),
        steps=(
            Step(True, "Hello, I run a design studio of 30 people around the corner. Do you "
                       "cater for meetings?", minutes_ago=5 * 60),
            Step(True, "We'd need coffee and pastries every Monday at 10.",
                 minutes_ago=5 * 60 - 2),
            Step(False, "Hi Amara, we'd love to! I'll send you our catering menu and prices "
                        "this afternoon.", by="owner"),
        ),
        status="PENDING", assignee="owner", conversation_tags=("lead",),
    ),
    Person(
        "Lucas Martin", "+12025550191", fields={"loyalty_tier": "Bronze"},
        steps=(
            Step(True, "My colleague wants to order too, here's her number", minutes_ago=15),
            Step(True, type="CONTACT", minutes_ago=14, extra={"vcard": VCARD}),
        ),
        status="OPEN", assignee="agent", conversation_tags=("order",),
    ),
    Person("Chloé Dubois", "+61491570110", email="chloe.dubois@example.com",
           fields={"loyalty_tier": "Gold", "favourite_drink": "Cortado"}, tags=("vip",)),
    Person("Noah Fischer", "+447700900789", fields={"loyalty_tier": "Bronze"}, tags=("lead",)),
)
