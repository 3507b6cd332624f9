"""The inbox: conversations listed, read and worked on by the organization's users
(status, priority, assignment, notes, tags, snoozes, read marks, history). Finding or
starting the conversation a message belongs to is wacc.conversations.threading."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec
from piccolo.columns.combination import WhereRaw

from wacc.bus import Bus, org_topic
from wacc.contacts.tables import Contact
from wacc.conversations.schemas import (
    AssignIn,
    ContactSummary,
    ConversationOut,
    ConversationPage,
    ConversationPatch,
    EventOut,
    NoteCreate,
    NoteOut,
    SnoozeIn,
    TagAttach,
    TagOut,
    UnassignIn,
)
from wacc.conversations.tables import (
    Conversation,
    ConversationAssignment,
    ConversationEvent,
    ConversationRead,
    ConversationStatus,
    ConversationTag,
    Note,
    Priority,
)
from wacc.db import fulltext
from wacc.db.engine import transaction
from wacc.events import ConversationAssigned, ConversationStatusChanged, TagAdded
from wacc.events import emit as emit_event
from wacc.lib import cursor
from wacc.lib.clock import iso, utcnow
from wacc.lib.errors import ConflictError, NotFoundError, ValidationError
from wacc.lib.ids import new_id
from wacc.orgs import services as orgs
from wacc.security.principal import Principal
from wacc.security.roles import Role
from wacc.tags.tables import Tag
from wacc.users import services as users
from wacc.users.schemas import UserOut

# -- the inbox API ---------------------------------------------------------------------
#
# Everything below is scoped by the caller's organization. Reads that span features
# (contact name, message bodies, tags) query those tables directly: they are joins the
# inbox list needs per page, and going through other services would cost a query per row.

_STATUSES = {s.value for s in ConversationStatus}
_PRIORITIES = {p.value for p in Priority}
_MENTION = re.compile(r"(?<![\w@])@(?:\[([^\]\s]{1,64})\]|([^\s@\[\]]{1,64}@[\w.-]+\.\w+))")
MAX_PAGE = 100


@dataclass(frozen=True)
class ListFilters:
    statuses: list[str] = field(default_factory=list)
    priority: str | None = None
    assignee: str | None = None  # "me", "unassigned" or a user id
    tag_id: str | None = None
    session_id: str | None = None
    q: str | None = None


async def _own_only(principal: Principal) -> bool:
    """Whether the organization limits this caller to conversations assigned to them."""
    if principal.role != Role.AGENT:
        return False
    settings = await orgs.settings_of(principal.organization_id) or {}
    # Stored as the API spells it (camelCase); the snake_case key is accepted too.
    return bool(settings.get("agentsSeeOwnConversationsOnly",
                             settings.get("agents_see_own_conversations_only")))


def _assigned_to(user_id: str) -> Any:
    return WhereRaw('EXISTS (SELECT 1 FROM conversation_assignment a WHERE a.conversation = '
                    '"conversation"."id" AND a."user" = {})', user_id)


async def visible_where(principal: Principal) -> Any:
    """The condition on "conversation" rows this caller may see: their organization's, and
    only their own when the organization says so. Other features (search) build on it."""
    where: Any = Conversation.organization == principal.organization_id
    if await _own_only(principal):
        where &= _assigned_to(principal.user_id or "")
    return where


async def _visible(principal: Principal, conversation_id: str) -> dict[str, Any]:
    """The conversation, or 404 when it is another organization's or hidden from an agent
    (404, not 403: a hidden conversation's existence is not disclosed)."""
    where = (Conversation.id == conversation_id) & await visible_where(principal)
    row = await Conversation.select().where(where).first()
    if row is None:
        raise NotFoundError("Conversation not found")
    return row


async def visible(principal: Principal, conversation_id: str) -> dict[str, Any]:
    """The conversation if *principal* may see it, else NotFoundError (for other features:
    messages, search and realtime apply the same rule as the inbox)."""
    return await _visible(principal, conversation_id)


async def restricted_to_own(principal: Principal) -> bool:
    """Whether *principal* sees only the conversations assigned to them."""
    return await _own_only(principal)


async def contact_peer(conversation_id: str) -> dict[str, Any]:
    """The WhatsApp identity of the conversation's customer (for engine commands)."""
    row = await Contact.select(Contact.whatsapp_id, Contact.phone_number).where(
        Contact.id.is_in(Conversation.select(Conversation.contact).where(
            Conversation.id == conversation_id))).first()
    if row is None:
        raise NotFoundError("Conversation not found")
    return row


async def claim_if_unassigned(principal: Principal, conversation_id: str) -> None:
    """An agent limited to their own conversations who starts one (send to a phone)
    becomes its assignee when nobody else is; someone else's stays hidden from them."""
    if principal.user_id is None or not await _own_only(principal):
        return
    if await ConversationAssignment.exists().where(
            ConversationAssignment.conversation == conversation_id):
        return
    await ConversationAssignment.insert(ConversationAssignment(
        id=new_id(), conversation=conversation_id, user=principal.user_id,
        assigned_by=principal.user_id)).on_conflict(action="DO NOTHING")


async def list_conversations(principal: Principal, filters: ListFilters, after: str | None,
                             limit: int) -> ConversationPage:
    """Newest activity first; ``after`` is the cursor of the previous page."""
    where: Any = await visible_where(principal)
    bad = [s for s in filters.statuses if s not in _STATUSES]
    if bad:
        raise ValidationError.field("status", f"unknown status {bad[0]!r}")
    if filters.statuses:
        where &= Conversation.status.is_in(filters.statuses)
    if filters.priority is not None:
        if filters.priority not in _PRIORITIES:
            raise ValidationError.field("priority", f"unknown priority {filters.priority!r}")
        where &= Conversation.priority == filters.priority
    if filters.assignee == "unassigned":
        where &= WhereRaw('NOT EXISTS (SELECT 1 FROM conversation_assignment a '
                          'WHERE a.conversation = "conversation"."id")')
    elif filters.assignee == "me":
        if principal.user_id is None:
            raise ValidationError.field("assignee", "an API key is not a user; name a user id")
        where &= _assigned_to(principal.user_id)
    elif filters.assignee:
        where &= _assigned_to(filters.assignee)
    if filters.tag_id:
        where &= WhereRaw('EXISTS (SELECT 1 FROM conversation_tag t WHERE t.conversation = '
                          '"conversation"."id" AND t.tag = {})', filters.tag_id)
    if filters.session_id:
        where &= Conversation.session == filters.session_id
    if filters.q and filters.q.strip():
        # Full-text search: the contact's name, e-mail or phone, or a message (docs/search.md).
        found = fulltext.parse(filters.q)
        where &= WhereRaw(
            '(EXISTS (SELECT 1 FROM contact c WHERE c.id = "conversation"."contact" AND {}) OR '
            '"conversation"."id" IN (SELECT m.conversation FROM message m '
            'WHERE m.organization = {} AND {}))', fulltext.contact_match("c", found),
            principal.organization_id, fulltext.message_match("m", found))
    if after:
        at, last_id = cursor.decode_time(after)
        where &= (Conversation.last_message_at < at) | (
            (Conversation.last_message_at == at) & (Conversation.id < last_id))
    rows = await Conversation.select().where(where).order_by(
        Conversation.last_message_at, ascending=False,
    ).order_by(Conversation.id, ascending=False).limit(limit + 1)
    page = rows[:limit]
    items = await _outs(principal, page)
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = cursor.encode(last["last_message_at"].isoformat(), last["id"])
    return ConversationPage(items=items, next_cursor=next_cursor)


async def _unread_counts(user_id: str | None, ids: list[str]) -> dict[str, int]:
    """Inbound messages newer than the caller's read mark, per conversation, in one query.
    An API key has no read marks, so everything inbound counts.

    One count per conversation of the page, each a range of the (conversation, timestamp)
    index from the read mark on. Grouping all the page's messages instead made PostgreSQL
    pick a parallel plan over the message table: 13-23 ms a page for about 1 ms of work
    (issue 18)."""
    marks = ", ".join("{}" for _ in ids)
    rows = await Conversation.raw(
        "SELECT c.id AS cid, (SELECT COUNT(*) FROM message m WHERE m.conversation = c.id "
        "AND m.direction = 'INBOUND' "
        "AND (r.last_read_at IS NULL OR m.timestamp > r.last_read_at)) AS n "
        "FROM conversation c LEFT JOIN conversation_read r "
        "ON r.conversation = c.id AND r.\"user\" = {} "
        f"WHERE c.id IN ({marks})",
        user_id or "", *ids)
    return {r["cid"]: int(r["n"]) for r in rows if r["n"]}


async def _outs(principal: Principal, rows: list[dict[str, Any]]) -> list[ConversationOut]:
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    contacts = {c["id"]: c for c in await Contact.select(
        Contact.id, Contact.name, Contact.phone_number,
    ).where(Contact.id.is_in(list({r["contact"] for r in rows})))}
    assignees: dict[str, list[str]] = {}
    for a in await ConversationAssignment.select(
        ConversationAssignment.conversation, ConversationAssignment.user,
    ).where(ConversationAssignment.conversation.is_in(ids)).order_by(
        ConversationAssignment.assigned_at,
    ):
        assignees.setdefault(a["conversation"], []).append(a["user"])
    tags: dict[str, list[TagOut]] = {}
    for t in await ConversationTag.select(
        ConversationTag.conversation, ConversationTag.tag.id, ConversationTag.tag.name,
        ConversationTag.tag.color,
    ).where(ConversationTag.conversation.is_in(ids)).order_by(ConversationTag.tag.name):
        tags.setdefault(t["conversation"], []).append(
            TagOut(id=t["tag.id"], name=t["tag.name"], color=t["tag.color"]))
    unread = await _unread_counts(principal.user_id, ids)
    out = []
    for r in rows:
        c = contacts.get(r["contact"], {"id": r["contact"], "name": None, "phone_number": ""})
        out.append(ConversationOut(
            id=r["id"], session_id=r["session"],
            contact=ContactSummary(id=c["id"], name=c["name"], phone=c["phone_number"]),
            status=r["status"], priority=r["priority"], channel=r["channel"],
            last_message_at=r["last_message_at"], version=r["version"],
            snoozed_until=r["snoozed_until"], assignees=assignees.get(r["id"], []),
            tags=tags.get(r["id"], []), unread_count=unread.get(r["id"], 0),
            created_at=r["created_at"], updated_at=r["updated_at"],
        ))
    return out


async def _out(principal: Principal, conversation_id: str) -> ConversationOut:
    row = await Conversation.select().where(Conversation.id == conversation_id).first()
    assert row is not None
    return (await _outs(principal, [row]))[0]


async def get(principal: Principal, conversation_id: str) -> ConversationOut:
    row = await _visible(principal, conversation_id)
    return (await _outs(principal, [row]))[0]


def _event(conversation_id: str, principal: Principal, kind: str, from_value: str | None,
           to_value: str | None) -> ConversationEvent:
    return ConversationEvent(id=new_id(), conversation=conversation_id, user=principal.user_id,
                             kind=kind, from_value=from_value, to_value=to_value)


async def _bump(conversation_id: str, version: int, changes: dict[Any, Any]) -> bool:
    """Apply *changes* only if nobody changed the conversation since *version* was read:
    one conditional UPDATE, so two agents racing cannot both win."""
    changed = await Conversation.update({
        **changes, Conversation.version: version + 1, Conversation.updated_at: utcnow(),
    }).where(
        (Conversation.id == conversation_id) & (Conversation.version == version)
    ).returning(Conversation.id)
    return bool(changed)


async def _publish(bus: Bus, org: str, payload: dict[str, Any]) -> None:
    await bus.publish(org_topic(org), payload)


async def update(principal: Principal, conversation_id: str, data: ConversationPatch, *,
                 bus: Bus) -> ConversationOut:
    row = await _visible(principal, conversation_id)
    changes: dict[Any, Any] = {}
    events = []
    if data.status is not msgspec.UNSET and data.status != row["status"]:
        changes[Conversation.status] = data.status
        # A status chosen by hand ends a snooze; otherwise the scheduler would undo it.
        changes[Conversation.snoozed_until] = None
        events.append(_event(conversation_id, principal, "status", row["status"], data.status))
    if data.priority is not msgspec.UNSET and data.priority != row["priority"]:
        changes[Conversation.priority] = data.priority
        events.append(
            _event(conversation_id, principal, "priority", row["priority"], data.priority))
    async with transaction():
        # Nothing to change still proves the version is current, without bumping it.
        current_ok = (await _bump(conversation_id, data.version, changes) if changes
                      else data.version == row["version"])
        if not current_ok:
            current = await Conversation.select(Conversation.version).where(
                Conversation.id == conversation_id).first()
            version = current["version"] if current else row["version"]
            raise ConflictError(
                "The conversation was changed since you read it; reload and retry",
                [{"field": "version", "message": f"current version is {version}",
                  "currentVersion": version}])
        if events:
            await ConversationEvent.insert(*events)
        if Conversation.status in changes:
            await emit_event(ConversationStatusChanged(
                organization_id=principal.organization_id, conversation_id=conversation_id,
                from_=row["status"], to=changes[Conversation.status], by=principal.user_id))
    out = await _out(principal, conversation_id)
    await _publish(bus, principal.organization_id, {
        "type": "conversation:updated", "conversationId": conversation_id,
        "status": out.status, "priority": out.priority, "version": out.version})
    return out


async def _members(org_id: str) -> dict[str, UserOut]:
    return {u.id: u for u in await users.list_all(org_id)}


async def assign(principal: Principal, conversation_id: str, data: AssignIn, *,
                 bus: Bus) -> ConversationOut:
    await _visible(principal, conversation_id)
    wanted = list(dict.fromkeys(data.user_ids))
    for user_id in wanted:  # all checked before anything changes
        if await users.is_active_member(user_id, principal.organization_id) is None:
            raise NotFoundError("User not found", [{"field": "userIds", "message": user_id}])
    current = [a["user"] for a in await ConversationAssignment.select(
        ConversationAssignment.user).where(ConversationAssignment.conversation == conversation_id)]
    removed = [u for u in current if u not in wanted] if data.mode == "replace" else []
    added = [u for u in wanted if u not in current]
    async with transaction():
        if removed:
            await ConversationAssignment.delete().where(
                (ConversationAssignment.conversation == conversation_id)
                & ConversationAssignment.user.is_in(removed))
        if added:
            await ConversationAssignment.insert(*[ConversationAssignment(
                id=new_id(), conversation=conversation_id, user=u,
                assigned_by=principal.user_id) for u in added])
        events = [_event(conversation_id, principal, "unassigned", u, None) for u in removed]
        events += [_event(conversation_id, principal, "assigned", None, u) for u in added]
        if events:
            await ConversationEvent.insert(*events)
        if added or removed:
            await emit_event(ConversationAssigned(
                organization_id=principal.organization_id, conversation_id=conversation_id,
                added=added, removed=removed, by=principal.user_id))
    out = await _out(principal, conversation_id)
    await _publish(bus, principal.organization_id, {
        "type": "conversation:assigned", "conversationId": conversation_id,
        "assignees": out.assignees, "added": added, "removed": removed})
    return out


async def unassign(principal: Principal, conversation_id: str, data: UnassignIn, *,
                   bus: Bus) -> ConversationOut:
    await _visible(principal, conversation_id)
    members = await _members(principal.organization_id)
    # Deactivated teammates may still be unassigned; other organizations' users may not.
    for user_id in data.user_ids:
        if user_id not in members:
            raise NotFoundError("User not found", [{"field": "userIds", "message": user_id}])
    current = [a["user"] for a in await ConversationAssignment.select(
        ConversationAssignment.user).where(ConversationAssignment.conversation == conversation_id)]
    removed = [u for u in current if u in data.user_ids]
    if removed:
        async with transaction():
            await ConversationAssignment.delete().where(
                (ConversationAssignment.conversation == conversation_id)
                & ConversationAssignment.user.is_in(removed))
            await ConversationEvent.insert(
                *[_event(conversation_id, principal, "unassigned", u, None) for u in removed])
            await emit_event(ConversationAssigned(
                organization_id=principal.organization_id, conversation_id=conversation_id,
                added=[], removed=removed, by=principal.user_id))
    out = await _out(principal, conversation_id)
    await _publish(bus, principal.organization_id, {
        "type": "conversation:assigned", "conversationId": conversation_id,
        "assignees": out.assignees, "added": [], "removed": removed})
    return out


def parse_mentions(content: str) -> list[tuple[str, str]]:
    """``@[user id]`` and ``@email`` mentions, in order: ("id" | "email", value)."""
    found: list[tuple[str, str]] = []
    for match in _MENTION.finditer(content):
        if match.group(1):
            found.append(("id", match.group(1)))
        else:
            found.append(("email", match.group(2).rstrip(".").lower()))
    return found


def _note_out(row: dict[str, Any]) -> NoteOut:
    mentions = row["mentions"]
    if isinstance(mentions, str):
        mentions = json.loads(mentions)
    return NoteOut(id=row["id"], conversation_id=row["conversation"], user_id=row["user"],
                   content=row["content"], mentions=list(mentions or []),
                   created_at=row["created_at"])


async def add_note(principal: Principal, conversation_id: str, data: NoteCreate, *,
                   bus: Bus) -> NoteOut:
    await _visible(principal, conversation_id)
    if not data.content.strip():
        raise ValidationError.field("content", "must not be empty")
    members = {u.id: u for u in (await _members(principal.organization_id)).values()
               if u.is_active}
    by_email = {u.email.lower(): u.id for u in members.values()}
    mentioned: list[str] = []
    for kind, value in parse_mentions(data.content):
        # Only teammates of this organization: anything else stays plain text.
        user_id = value if kind == "id" and value in members else by_email.get(value)
        if user_id and user_id not in mentioned:
            mentioned.append(user_id)
    note_id = new_id()
    await Note.insert(Note(id=note_id, conversation=conversation_id, user=principal.user_id,
                           content=data.content, mentions=mentioned))
    row = await Note.select().where(Note.id == note_id).first()
    assert row is not None
    topic = org_topic(principal.organization_id)
    await bus.publish_many([(topic, {
        "type": "note:new", "conversationId": conversation_id, "noteId": note_id,
        "by": principal.user_id,
    })] + [(topic, {
        "type": "notification", "kind": "mention", "userId": user_id,
        "conversationId": conversation_id, "noteId": note_id, "by": principal.user_id,
    }) for user_id in mentioned])
    return _note_out(row)


async def list_notes(principal: Principal, conversation_id: str) -> list[NoteOut]:
    await _visible(principal, conversation_id)
    rows = await Note.select().where(Note.conversation == conversation_id).order_by(
        Note.created_at).order_by(Note.id)
    return [_note_out(r) for r in rows]


async def _org_tag(principal: Principal, tag_id: str) -> None:
    if not await Tag.exists().where(
        (Tag.id == tag_id) & (Tag.organization == principal.organization_id)
    ):
        raise NotFoundError("Tag not found")


async def add_tag(principal: Principal, conversation_id: str, data: TagAttach, *,
                  bus: Bus) -> ConversationOut:
    await _visible(principal, conversation_id)
    await _org_tag(principal, data.tag_id)
    async with transaction():
        added = await ConversationTag.insert(ConversationTag(
            id=new_id(), conversation=conversation_id, tag=data.tag_id,
        )).on_conflict(action="DO NOTHING").returning(ConversationTag.id)
        if added:
            await emit_event(TagAdded(organization_id=principal.organization_id,
                                      tag_id=data.tag_id, conversation_id=conversation_id))
    out = await _out(principal, conversation_id)
    await _publish(bus, principal.organization_id, {
        "type": "conversation:updated", "conversationId": conversation_id,
        "tags": [t.id for t in out.tags]})
    return out


async def remove_tag(principal: Principal, conversation_id: str, tag_id: str, *,
                     bus: Bus) -> None:
    await _visible(principal, conversation_id)
    await _org_tag(principal, tag_id)
    await ConversationTag.delete().where(
        (ConversationTag.conversation == conversation_id) & (ConversationTag.tag == tag_id))
    await _publish(bus, principal.organization_id, {
        "type": "conversation:updated", "conversationId": conversation_id,
        "removedTag": tag_id})


async def snooze(principal: Principal, conversation_id: str, data: SnoozeIn, *,
                 bus: Bus) -> ConversationOut:
    row = await _visible(principal, conversation_id)
    if data.until.tzinfo is None:
        raise ValidationError.field("until", "must include a timezone")
    if data.until <= utcnow():
        raise ValidationError.field("until", "must be in the future")
    async with transaction():
        # Snoozing is a deliberate act, not an edit of what was read: no version check,
        # but the version still moves so a concurrent PATCH sees the change.
        await Conversation.update({
            Conversation.status: ConversationStatus.PENDING.value,
            Conversation.snoozed_until: data.until,
            Conversation.version: Conversation.version + 1,
            Conversation.updated_at: utcnow(),
        }).where(Conversation.id == conversation_id)
        await ConversationEvent.insert(
            _event(conversation_id, principal, "snoozed", row["status"], iso(data.until)))
    out = await _out(principal, conversation_id)
    await _publish(bus, principal.organization_id, {
        "type": "conversation:updated", "conversationId": conversation_id,
        "status": out.status, "snoozedUntil": iso(data.until), "version": out.version})
    return out


async def reopen_due_snoozes(bus: Bus | None = None) -> int:
    """Reopen every snoozed conversation whose time has come; returns how many.

    Each row is reopened by a conditional UPDATE, so two schedulers running at once
    reopen it once."""
    now = utcnow()
    due = await Conversation.select(
        Conversation.id, Conversation.organization, Conversation.status,
    ).where(Conversation.snoozed_until.is_not_null() & (Conversation.snoozed_until <= now))
    reopened = 0
    for row in due:
        async with transaction():
            won = await Conversation.update({
                Conversation.status: ConversationStatus.OPEN.value,
                Conversation.snoozed_until: None,
                Conversation.version: Conversation.version + 1,
                Conversation.updated_at: now,
            }).where(
                (Conversation.id == row["id"]) & Conversation.snoozed_until.is_not_null()
                & (Conversation.snoozed_until <= now)
            ).returning(Conversation.id)
            if not won:
                continue
            await ConversationEvent.insert(ConversationEvent(
                id=new_id(), conversation=row["id"], user=None, kind="reopened",
                from_value=row["status"], to_value=ConversationStatus.OPEN.value))
        reopened += 1
        if bus is not None:
            await bus.publish(org_topic(row["organization"]), {
                "type": "conversation:updated", "conversationId": row["id"],
                "status": ConversationStatus.OPEN.value})
    return reopened


async def mark_read(principal: Principal, conversation_id: str) -> None:
    await _visible(principal, conversation_id)
    if principal.user_id is None:
        raise ValidationError("Read marks belong to users; an API key has none")
    now = utcnow()
    await ConversationRead.insert(ConversationRead(
        id=new_id(), conversation=conversation_id, user=principal.user_id, last_read_at=now,
    )).on_conflict(
        target=(ConversationRead.conversation, ConversationRead.user), action="DO UPDATE",
        values=[ConversationRead.last_read_at],
    )


async def history(principal: Principal, conversation_id: str) -> list[EventOut]:
    await _visible(principal, conversation_id)
    rows = await ConversationEvent.select().where(
        ConversationEvent.conversation == conversation_id,
    ).order_by(ConversationEvent.created_at).order_by(ConversationEvent.id)
    return [EventOut(id=r["id"], user_id=r["user"], kind=r["kind"], from_value=r["from_value"],
                     to_value=r["to_value"], created_at=r["created_at"]) for r in rows]
