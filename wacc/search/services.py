"""Search messages and contacts: best match first (ts_rank on PostgreSQL, bm25 on
SQLite), then newest. Results are one page: a ranked list has no stable place to resume
from, so a caller who wants more narrows the query instead."""

from __future__ import annotations

import html
from typing import Any

from piccolo.querystring import QueryString

from wacc.contacts.tables import Contact
from wacc.conversations import inbox as conversations
from wacc.conversations.schemas import ContactSummary
from wacc.db import fulltext as q
from wacc.db.engine import is_sqlite
from wacc.messages.tables import Message
from wacc.search.schemas import ContactHit, ContactHits, MessageHit, MessageHits
from wacc.security.principal import Principal

MAX_LIMIT = 50
# Private-use characters mark matches in snippets; they become <mark> after escaping.
_OPEN, _CLOSE = "\ue000", "\ue001"
_HEADLINE = f"StartSel={_OPEN}, StopSel={_CLOSE}, MaxWords=24, MinWords=8, MaxFragments=1"


def _snippet_html(raw: str | None) -> str:
    text = html.escape(raw or "", quote=False)
    return text.replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")


_MESSAGE_COLUMNS = (
    "m.id, m.conversation, m.session, m.body, m.direction, m.type, m.timestamp, "
    "ct.id AS contact_id, ct.name AS contact_name, ct.phone_number AS contact_phone")
_MESSAGE_JOINS = (
    'JOIN conversation ON conversation.id = m.conversation '
    'JOIN contact ct ON ct.id = conversation.contact')


def _message_sql(found: q.SearchQuery, where: QueryString, limit: int) -> QueryString:
    if is_sqlite():
        return QueryString(
            f"SELECT {_MESSAGE_COLUMNS}, snippet(message_fts, 0, {{}}, {{}}, '…', 16) AS snippet "
            f"FROM message_fts JOIN message m ON m.rowid = message_fts.rowid {_MESSAGE_JOINS} "
            "WHERE message_fts MATCH {} AND {} "
            "ORDER BY bm25(message_fts), m.timestamp DESC, m.id DESC LIMIT {}",
            _OPEN, _CLOSE, q.fts5(found), where, limit)
    document = q.pg_message_document("m")
    return QueryString(
        f"SELECT {_MESSAGE_COLUMNS}, "
        f"ts_headline('{q.PG_CONFIG}', coalesce(m.body, ''), tsq, {{}}) AS snippet "
        f"FROM message m {_MESSAGE_JOINS} CROSS JOIN {{}} AS tsq "
        f"WHERE {document} @@ tsq AND {{}} "
        f"ORDER BY ts_rank({document}, tsq) DESC, m.timestamp DESC, m.id DESC LIMIT {{}}",
        _HEADLINE, q.pg_tsquery(found), where, limit)


async def search_messages(
    principal: Principal, text: str, *, conversation_id: str | None = None,
    session_id: str | None = None, limit: int = 20,
) -> MessageHits:
    """Messages of conversations the caller may see (an agent limited to their own
    conversations finds only those); revoked messages are not found."""
    found = q.parse(text)
    q.require_words(found)
    if conversation_id is not None:
        await conversations.get(principal, conversation_id)  # 404 when not visible
    visible = await conversations.visible_where(principal)
    where = QueryString(f"m.organization = {{}} AND {{}} AND {q.not_revoked('m')}",
                        principal.organization_id, visible.querystring)
    if conversation_id is not None:
        where = QueryString("{} AND m.conversation = {}", where, conversation_id)
    if session_id is not None:
        where = QueryString("{} AND m.session = {}", where, session_id)
    rows = await Message.raw("{}", _message_sql(found, where, min(limit, MAX_LIMIT)))
    return MessageHits(items=[_message_hit(r) for r in rows])


def _message_hit(row: dict[str, Any]) -> MessageHit:
    return MessageHit(
        id=row["id"], conversation_id=row["conversation"], session_id=row["session"],
        contact=ContactSummary(id=row["contact_id"], name=row["contact_name"],
                               phone=row["contact_phone"]),
        direction=row["direction"], type=row["type"], body=row["body"],
        snippet=_snippet_html(row["snippet"]), timestamp=row["timestamp"])


_CONTACT_COLUMNS = ("c.id, c.name, c.phone_number, c.email, c.whatsapp_id, c.last_message_at, "
                    "c.created_at")
_NEWEST = "c.last_message_at DESC NULLS LAST, c.created_at DESC, c.id DESC"


def _contact_sql(found: q.SearchQuery, organization_id: str, limit: int) -> QueryString:
    phone = q.phone_match("c", found)
    if is_sqlite():
        return QueryString(
            f"SELECT {_CONTACT_COLUMNS} FROM contact c LEFT JOIN (SELECT rowid AS rid, "
            "bm25(contact_fts) AS score FROM contact_fts WHERE contact_fts MATCH {}) f "
            "ON f.rid = c.rowid WHERE c.organization = {} AND (f.rid IS NOT NULL OR {}) "
            f"ORDER BY f.score IS NULL, f.score, {_NEWEST} LIMIT {{}}",
            q.fts5(found), organization_id, phone, limit)
    document = q.pg_contact_document("c")
    return QueryString(
        f"SELECT {_CONTACT_COLUMNS} FROM contact c CROSS JOIN {{}} AS tsq "
        f"WHERE c.organization = {{}} AND ({document} @@ tsq OR {{}}) "
        f"ORDER BY CASE WHEN {document} @@ tsq THEN ts_rank({document}, tsq) ELSE 0 END DESC, "
        f"{_NEWEST} LIMIT {{}}",
        q.pg_tsquery(found), organization_id, phone, limit)


async def search_contacts(organization_id: str, text: str, *, limit: int = 20) -> ContactHits:
    """Contacts by name or e-mail words, or by digits of their phone number."""
    found = q.parse(text)
    q.require_words(found)
    rows = await Contact.raw("{}", _contact_sql(found, organization_id, min(limit, MAX_LIMIT)))
    return ContactHits(items=[ContactHit(
        id=r["id"], name=r["name"], phone_number=r["phone_number"], email=r["email"],
        whatsapp_id=r["whatsapp_id"], last_message_at=r["last_message_at"],
        created_at=r["created_at"]) for r in rows])
