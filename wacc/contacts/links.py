"""What other features keep about a contact, reached without importing them.

Conversations and messages build on contacts (a conversation is with a contact), so
contacts must not import them: that would close a cycle. Yet a merge moves a contact's
conversations, an erasure reports what went with the contact, a GDPR export includes
every conversation and message, and a contact's page lists its conversations. Each
feature that keeps rows about contacts registers a :class:`ContactLinks` here from its
plugin module, and contacts asks every registered one. Registration happens when the
plugin module is imported: every process imports the built-in plugins
(``wacc.features.BUILTIN_PLUGINS``) when it builds its plugin manager, before any
service runs. docs/architecture.md describes the pattern.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from wacc.contacts.schemas import ContactConversation


@dataclass
class Erasing:
    """What goes with a contact when it is erased: counts by kind (``"conversations"``,
    ``"messages"``) and the media files to remove once the rows are gone."""

    counts: dict[str, int] = field(default_factory=dict)
    media_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ContactLinks:
    """One feature's answers about a contact; each is optional. All take the
    organization id first."""

    name: str
    # A merge: move the dropped contact's rows (second argument) to the kept one (third).
    move: Callable[[str, str, str], Awaitable[None]] | None = None
    # An erasure, inside its transaction and before the contact row is deleted: what goes
    # with it. The rows themselves go with the contact (ON DELETE CASCADE), so asking
    # reads only and the order in which features are asked does not matter.
    erasing: Callable[[str, str], Awaitable[Erasing]] | None = None
    # The feature's top-level keys of the contact's GDPR export.
    export: Callable[[str, str], Awaitable[dict[str, Any]]] | None = None
    # The contact's conversations, newest first.
    conversations: Callable[[str, str], Awaitable[list[ContactConversation]]] | None = None


_registered: dict[str, ContactLinks] = {}


def register(links: ContactLinks) -> None:
    """Add (or replace, by name) a feature's links."""
    _registered[links.name] = links


def registered() -> list[ContactLinks]:
    """Every feature's links, in the order they were first registered."""
    return list(_registered.values())
