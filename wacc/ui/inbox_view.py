"""What the inbox pages show, read through the features' services as the signed-in
principal: list rows with their last message, thread items (messages and internal notes
in one timeline), and the contact panel. No table is queried here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, get_args

from wacc.ai import services as ai
from wacc.ai.assist.schemas import Tone
from wacc.canned import services as canned_responses
from wacc.contacts import services as contacts
from wacc.conversations import inbox as conversations
from wacc.conversations.schemas import ConversationOut, NoteOut
from wacc.customfields import services as customfields
from wacc.lib import cursor as cursors
from wacc.lib.errors import NotFoundError, ValidationError
from wacc.messages import services as messages
from wacc.messages.schemas import MessageOut
from wacc.security.principal import Principal
from wacc.sessions import services as sessions
from wacc.sessions.schemas import SessionOut
from wacc.tags import services as tags
from wacc.users import services as users

PAGE = 40
VIEWS = ("all", "mine", "unassigned")
# "snoozed" is not a status of its own: a snoozed conversation is PENDING with a time.
STATUSES = ("open", "pending", "snoozed", "resolved", "closed", "spam", "any")
MEDIA_TYPES = ("IMAGE", "VIDEO", "AUDIO", "DOCUMENT", "STICKER")
_PREVIEW = {"IMAGE": "Photo", "VIDEO": "Video", "AUDIO": "Audio", "DOCUMENT": "Document",
            "STICKER": "Sticker", "LOCATION": "Location", "CONTACT": "Contact", "POLL": "Poll",
            "REACTION": "Reaction"}
# The list row's icon beside those words (wacc.ui.icons; vendored in hatch_build.VENDOR).
_PREVIEW_ICON = {"IMAGE": "camera", "VIDEO": "video", "AUDIO": "mic", "DOCUMENT": "file-text",
                 "LOCATION": "map-pin", "CONTACT": "contact-round", "POLL": "vote"}


def aware(value: datetime) -> datetime:
    """SQLite may hand back naive times; the timeline compares them with aware ones."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def preview_icon(m: MessageOut | None) -> str | None:
    """The icon that goes before :func:`preview_of` in the list, if any."""
    if m is None:
        return None
    return "ban" if m.metadata.get("revoked") else _PREVIEW_ICON.get(m.type)


def preview_of(m: MessageOut | None) -> str:
    """One line for the list and for a quoted reply."""
    if m is None:
        return ""
    if m.metadata.get("revoked"):
        return "This message was deleted"
    label = _PREVIEW.get(m.type, "")
    if m.type == "TEXT" or not label:
        return (m.body or "")[:140]
    if m.type == "REACTION":
        return f"Reacted {m.body or ''}".strip()
    if m.type == "POLL":
        return f"{label}: {(m.metadata.get('poll') or {}).get('question', '')}"[:140]
    return f"{label} {m.body or ''}".strip()[:140]


def size_label(size: Any) -> str:
    if not isinstance(size, int | float) or size < 0:
        return ""
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def vcard_of(text: str | None) -> dict[str, list[str] | str]:
    """Name and phone numbers of a vCard, for the contact card bubble."""
    name, phones = "", []
    for line in (text or "").splitlines():
        key, _, value = line.partition(":")
        key = key.split(";")[0].strip().upper()
        if key == "FN" and not name:
            name = value.strip()
        elif key == "TEL" and value.strip():
            phones.append(value.strip())
    return {"name": name or "Contact", "phones": phones}


@dataclass
class Filters:
    view: str = "all"
    status: str = "open"
    tag: str = ""
    session: str = ""
    q: str = ""

    @classmethod
    def of(cls, params: Any) -> Filters:
        out = cls(view=params.get("view") or "all", status=params.get("status") or "open",
                  tag=(params.get("tag") or "")[:64], session=(params.get("session") or "")[:64],
                  q=(params.get("q") or "")[:200])
        if out.view not in VIEWS:
            raise ValidationError.field("view", f"must be one of {', '.join(VIEWS)}")
        if out.status not in STATUSES:
            raise ValidationError.field("status", f"must be one of {', '.join(STATUSES)}")
        return out

    def service(self) -> conversations.ListFilters:
        status = {"any": [], "snoozed": ["PENDING"]}.get(self.status, [self.status.upper()])
        return conversations.ListFilters(
            statuses=status, assignee=None if self.view == "all" else (
                "me" if self.view == "mine" else "unassigned"),
            tag_id=self.tag or None, session_id=self.session or None, q=self.q or None)

    def query(self) -> dict[str, str]:
        return {k: v for k, v in (("view", self.view), ("status", self.status), ("tag", self.tag),
                                  ("session", self.session), ("q", self.q)) if v}


@dataclass
class Row:
    conversation: ConversationOut
    preview: str
    outbound: bool
    assignees: list[str]
    icon: str | None = None


async def team(principal: Principal) -> dict[str, str]:
    """User id → name, for avatars, assignee pickers and typing indicators."""
    return {u.id: u.name for u in await users.list_all(principal.organization_id)
            if u.is_active}


async def rows(principal: Principal, filters: Filters, after: str | None,
               names: dict[str, str]) -> tuple[list[Row], str | None]:
    page = await conversations.list_conversations(principal, filters.service(), after, PAGE)
    items = page.items
    if filters.status == "snoozed":
        items = [c for c in items if c.snoozed_until is not None]
    latest = await messages.latest_for_conversations(principal, [c.id for c in items])
    out = []
    for c in items:
        m = latest.get(c.id)
        out.append(Row(conversation=c, preview=preview_of(m),
                       outbound=bool(m and m.direction == "OUTBOUND"),
                       assignees=[names.get(u, "Former teammate") for u in c.assignees],
                       icon=preview_icon(m)))
    return out, page.next_cursor


@dataclass
class Item:
    """One entry of the thread: a message (with what it quotes and the reactions it got)
    or an internal note."""

    kind: str  # "message" | "note"
    at: datetime
    message: MessageOut | None = None
    note: NoteOut | None = None
    author: str = ""
    # Who sent an outbound message when no person did: "ai" (the AI, by itself or in an
    # automation) or "automation"; the bubble says so, as it names the agent who replied.
    sent_by: str | None = None
    quoted: str | None = None
    reactions: list[str] = field(default_factory=list)
    hidden: bool = False  # a reaction shown on the message it reacts to
    size: str = ""  # of the media file, in words
    card: dict[str, Any] = field(default_factory=dict)  # a contact message's vCard

    @property
    def id(self) -> str:
        return self.message.id if self.message else (self.note.id if self.note else "")


def _machine_sender(meta: dict[str, Any]) -> str | None:
    """"ai" for a message the AI wrote (wacc.ai.responder.replies records ``ai`` in its metadata),
    "automation" for one an automation sent (``automationId``), else None."""
    if meta.get("ai"):
        return "ai"
    return "automation" if meta.get("automationId") else None


def _items(batch: list[MessageOut], context: list[MessageOut],
           names: dict[str, str]) -> list[Item]:
    by_wa = {m.whatsapp_message_id: m for m in context if m.whatsapp_message_id}
    out: dict[str, Item] = {}
    for m in batch:
        meta = m.metadata
        quoted_id = meta.get("quotedId")
        quoted = None
        if quoted_id:
            quoted = preview_of(by_wa[quoted_id]) if quoted_id in by_wa else "An earlier message"
        reactions = [str(e) for e in (meta.get("reactions") or {}).values() if e]
        author = names.get(meta.get("sentBy") or "", "") if m.direction == "OUTBOUND" else (
            # In a group, each inbound bubble names the participant who wrote it.
            meta.get("senderName") or meta.get("senderPhone") or meta.get("sender") or ""
            if meta.get("group") else "")
        sent_by = _machine_sender(meta) if m.direction == "OUTBOUND" else None
        if sent_by == "ai":
            author = "AI reply (automation)" if meta.get("automationId") else "AI reply"
        elif sent_by == "automation":
            author = "Automation"
        out[m.id] = Item(kind="message", at=aware(m.timestamp), message=m, author=author,
                         sent_by=sent_by,
                         quoted=quoted, reactions=reactions,
                         size=size_label((meta.get("media") or {}).get("size")),
                         card=vcard_of(meta.get("vcard")) if m.type == "CONTACT" else {})
    # Our own reactions are messages of their own; show them on their target instead.
    targets = {m.whatsapp_message_id: m.id for m in batch if m.whatsapp_message_id}
    for item in out.values():
        reaction = item.message
        if reaction is None or reaction.type != "REACTION" or not reaction.body:
            continue
        target = targets.get(reaction.metadata.get("reactionTo") or "")
        if target and target in out:
            out[target].reactions.append(reaction.body)
            item.hidden = True
    return list(out.values())


async def thread(principal: Principal, conversation_id: str, before: str | None,
                 names: dict[str, str]) -> tuple[list[Item], str | None]:
    """A page of the timeline, oldest first; the cursor loads the page before it."""
    page = await messages.list_for_conversation(principal, conversation_id, before, PAGE)
    batch = list(reversed(page.items))
    items = _items(batch, batch, names)
    upper = cursors.decode_time(before)[0] if before else None
    lower = aware(batch[0].timestamp) if page.next_cursor and batch else None
    for n in await conversations.list_notes(principal, conversation_id):
        at = aware(n.created_at)
        if (lower is None or at >= lower) and (upper is None or at < aware(upper)):
            items.append(Item(kind="note", at=at, note=n,
                              author=names.get(n.user_id or "", "Former teammate")))
    items.sort(key=lambda i: i.at)
    return items, page.next_cursor


async def one_message(principal: Principal, message_id: str,
                      names: dict[str, str]) -> Item:
    """A single bubble (live updates), with the latest page as the context for what it
    quotes."""
    m = await messages.get(principal, message_id)
    recent = await messages.list_for_conversation(principal, m.conversation_id, None, PAGE)
    context = [*recent.items, m]
    item = _items([m], context, names)[0]
    # Reactions we sent to this message are separate messages in the recent page.
    if m.whatsapp_message_id:
        item.reactions += [r.body for r in recent.items if r.type == "REACTION" and r.body
                           and r.metadata.get("reactionTo") == m.whatsapp_message_id]
    return item


@dataclass
class ContactPanel:
    contact: Any
    fields: list[tuple[str, str]]
    tag_names: list[tuple[str, str]]
    others: list[Any]


async def contact_panel(principal: Principal, conversation: ConversationOut) -> ContactPanel:
    org = principal.organization_id
    contact = await contacts.get_contact(org, conversation.contact.id)
    labels = {f.key: f.name for f in await customfields.list_fields(principal)}
    values = []
    for key, value in (contact.custom_fields or {}).items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        values.append((labels.get(key, key), shown))
    all_tags = {t.id: t.name for t in await tags.list_tags(principal)}
    own = [(t, all_tags[t]) for t in contact.tags if t in all_tags]
    others = []
    for c in await contacts.conversations_of(org, contact.id):
        if c.id == conversation.id:
            continue
        try:  # an agent limited to their own conversations sees only those
            await conversations.visible(principal, c.id)
        except NotFoundError:
            continue
        others.append(c)
    return ContactPanel(contact=contact, fields=values, tag_names=own, others=others)


# The Cloud API's customer service window (wacc.engines.cloud.outbound.WINDOW_SECONDS).
WINDOW_SECONDS = 24 * 60 * 60


@dataclass
class ReplyWindow:
    """The Cloud API's 24-hour window for the composer: free text only while it is open,
    an approved template after. ``closes_at`` is None when no customer message is
    stored (wacc cannot know; Meta decides on send)."""

    closes_at: datetime | None

    @property
    def known(self) -> bool:
        return self.closes_at is not None

    def seconds_left(self, now: datetime | None = None) -> int:
        if self.closes_at is None:
            return 0
        return max(0, int((self.closes_at - (now or datetime.now(UTC))).total_seconds()))

    @property
    def open(self) -> bool:
        return self.seconds_left() > 0

    def left_label(self) -> str:
        minutes = (self.seconds_left() + 59) // 60
        return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


async def reply_window(principal: Principal, conversation: ConversationOut) -> ReplyWindow | None:
    """The reply window of a conversation on a Cloud API session; None for engines
    without one (WhatsApp Web lets a business write any time)."""
    session = await sessions.get(principal, conversation.session_id)
    if session.engine != "cloud":
        return None
    last = await messages.last_inbound_for_contacts(conversation.session_id,
                                                    [conversation.contact.id])
    if last is None:
        return ReplyWindow(closes_at=None)
    return ReplyWindow(closes_at=datetime.fromtimestamp(last + WINDOW_SECONDS, UTC))


@dataclass(frozen=True)
class FirstSteps:
    """What an empty inbox points to: a simulator session's customer phone (write to
    yourself), or adding a WhatsApp number when there is none yet."""

    simulator: SessionOut | None
    has_sessions: bool


async def first_steps(principal: Principal) -> FirstSteps:
    found = await sessions.list_sessions(principal)
    simulators = [s for s in found if s.engine == "simulator"]
    connected = [s for s in simulators if s.status == "CONNECTED"]
    pick = connected or simulators
    return FirstSteps(simulator=pick[0] if pick else None, has_sessions=bool(found))


async def choices(principal: Principal) -> dict[str, Any]:
    """Options of the filter bar and the header: tags and sessions."""
    return {"tags": await tags.list_tags(principal),
            "sessions": await sessions.list_sessions(principal)}


async def canned(principal: Principal) -> list[dict[str, str]]:
    return [{"shortcut": c.shortcut, "content": c.content}
            for c in await canned_responses.list_canned(principal)]


# The rewrite tones the API accepts, in the words the menu shows.
TONE_LABELS = {"friendly": "Friendly", "formal": "Formal", "short": "Shorter",
               "apologetic": "Apologetic", "confident": "Confident", "empathetic": "Empathetic"}


@dataclass
class Assist:
    """What the composer's AI tools need: whether to show them (the user may ask the AI
    and the organization has an enabled provider), and whether to hint an admin at
    Settings → AI instead."""

    ready: bool
    can_configure: bool
    tones: list[tuple[str, str]]


async def assist(principal: Principal) -> Assist:
    tones = [(t, TONE_LABELS.get(t, t.capitalize())) for t in get_args(Tone)]
    if not principal.can("use:ai"):
        return Assist(ready=False, can_configure=False, tones=tones)
    ready = bool(await ai.enabled_rows(principal.organization_id))
    return Assist(ready=ready, can_configure=principal.can("write:ai"), tones=tones)


SAFE_INLINE = re.compile(r"^(image|video|audio)/[\w.+-]+$")
