"""Choosing an agent for a conversation: round-robin or least-busy, within capacity.

Used by automations ("assign" actions) and by the AI hand-off. Agents are the
organization's active AGENT and MANAGER members (or the ids a caller names). An
agent's capacity is how many OPEN or PENDING conversations they may hold; it comes from
the organization settings ``agentCapacity`` (``{"<user id>": 10}``) with
``defaultAgentCapacity`` as the fallback, and no setting means no limit.

Round-robin needs no stored pointer: the next agent is the one whose latest assignment
is the oldest (never assigned comes first), which rotates fairly and survives restarts
and several workers. A conditional insert keeps two racing assignments of one
conversation from both landing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from wacc import events
from wacc.bus import Bus, org_topic
from wacc.conversations.tables import (
    Conversation,
    ConversationAssignment,
    ConversationEvent,
    ConversationStatus,
)
from wacc.db.engine import transaction
from wacc.lib.ids import new_id
from wacc.orgs import services as orgs
from wacc.security.roles import Role
from wacc.users.tables import User

Strategy = Literal["round_robin", "least_busy"]
_ROUTABLE = (Role.AGENT.value, Role.MANAGER.value)
_ACTIVE = (ConversationStatus.OPEN.value, ConversationStatus.PENDING.value)


async def _candidates(organization_id: str, user_ids: Sequence[str] | None) -> list[str]:
    where: Any = (User.organization == organization_id) & (User.is_active == True)  # noqa: E712
    if user_ids:
        where &= User.id.is_in(list(user_ids))
    else:
        where &= User.role.is_in(list(_ROUTABLE))
    rows = await User.select(User.id).where(where).order_by(User.created_at)
    return [r["id"] for r in rows]


async def _load(organization_id: str, user_ids: list[str]) -> dict[str, int]:
    """Open or pending conversations each candidate holds now."""
    counts = dict.fromkeys(user_ids, 0)
    rows = await ConversationAssignment.select(ConversationAssignment.user).where(
        ConversationAssignment.user.is_in(user_ids)
        & ConversationAssignment.conversation.is_in(
            Conversation.select(Conversation.id).where(
                (Conversation.organization == organization_id)
                & Conversation.status.is_in(list(_ACTIVE)))))
    for row in rows:
        counts[row["user"]] += 1
    return counts


async def _last_assigned(user_ids: list[str]) -> dict[str, Any]:
    rows = await ConversationAssignment.select(
        ConversationAssignment.user, ConversationAssignment.assigned_at,
    ).where(ConversationAssignment.user.is_in(user_ids))
    latest: dict[str, Any] = {}
    for row in rows:
        if row["user"] not in latest or row["assigned_at"] > latest[row["user"]]:
            latest[row["user"]] = row["assigned_at"]
    return latest


def _capacity(settings: dict[str, Any], user_id: str) -> int | None:
    per_agent = settings.get("agentCapacity") or {}
    value = per_agent.get(user_id, settings.get("defaultAgentCapacity"))
    return int(value) if isinstance(value, int | float) and value >= 0 else None


async def choose(organization_id: str, strategy: Strategy = "round_robin",
                 user_ids: Sequence[str] | None = None) -> str | None:
    """The agent to assign next, or None when everyone is at capacity (or nobody is)."""
    candidates = await _candidates(organization_id, user_ids)
    if not candidates:
        return None
    settings = await orgs.settings_of(organization_id) or {}
    load = await _load(organization_id, candidates)
    free = [u for u in candidates
            if (cap := _capacity(settings, u)) is None or load[u] < cap]
    if not free:
        return None
    if strategy == "least_busy":
        order = {u: i for i, u in enumerate(candidates)}
        return min(free, key=lambda u: (load[u], order[u]))
    latest = await _last_assigned(free)
    never = [u for u in free if u not in latest]
    return never[0] if never else min(free, key=lambda u: latest[u])


async def assign_next(organization_id: str, conversation_id: str, *, bus: Bus,
                      strategy: Strategy = "round_robin", user_ids: Sequence[str] | None = None,
                      by: str | None = None) -> str | None:
    """Assign the conversation to the next agent; returns who, or None when nobody is
    free (the conversation then stays unassigned for a human to pick up)."""
    user_id = await choose(organization_id, strategy, user_ids)
    if user_id is None:
        return None
    async with transaction():
        inserted = await ConversationAssignment.insert(ConversationAssignment(
            id=new_id(), conversation=conversation_id, user=user_id, assigned_by=by,
        )).on_conflict(action="DO NOTHING").returning(ConversationAssignment.id)
        if not inserted:
            return user_id  # already theirs
        await ConversationEvent.insert(ConversationEvent(
            id=new_id(), conversation=conversation_id, user=by, kind="assigned",
            from_value=None, to_value=user_id))
        await events.emit(events.ConversationAssigned(
            organization_id=organization_id, conversation_id=conversation_id,
            added=[user_id], removed=[], by=by))
    assignees = [r["user"] for r in await ConversationAssignment.select(
        ConversationAssignment.user).where(ConversationAssignment.conversation == conversation_id)]
    await bus.publish(org_topic(organization_id), {
        "type": "conversation:assigned", "conversationId": conversation_id,
        "assignees": assignees, "added": [user_id], "removed": []})
    return user_id
