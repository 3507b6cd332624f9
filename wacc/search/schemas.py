"""Response bodies of the search API."""

from __future__ import annotations

from datetime import datetime

from wacc.conversations.schemas import ContactSummary
from wacc.http.schemas import Output


class MessageHit(Output):
    id: str
    conversation_id: str
    session_id: str
    contact: ContactSummary
    direction: str
    type: str
    body: str | None
    # HTML: the text around the match, escaped, with each match in <mark>…</mark>.
    snippet: str
    timestamp: datetime


class MessageHits(Output):
    items: list[MessageHit]


class ContactHit(Output):
    id: str
    name: str | None
    phone_number: str
    email: str | None
    whatsapp_id: str
    last_message_at: datetime | None
    created_at: datetime


class ContactHits(Output):
    items: list[ContactHit]
