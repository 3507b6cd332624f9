"""Reading past messages through the adapter (wacc.sessions.history drives it).

The adapter's ``historyChats`` and ``history`` actions use wa-js's ``chat.list`` and
``chat.getMessages`` and translate each message exactly like a live one
(``toMessage``), so a history message and the same message arriving live are one
event with one id: the pipeline stores it once. What the page sends is checked here
like every page event: a malformed item is dropped and counted, never stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from wacc.engines.contract import InboundMessage, Peer, is_broadcast_id

log = logging.getLogger(__name__)

Call = Callable[[str, dict[str, Any]], Awaitable[Any]]
# Messages read from one chat in one call at most (the adapter pages 100 at a time).
MAX_PER_CHAT = 2000


async def chats_since(call: Call, since: float) -> list[Peer]:
    value = await call("historyChats", {"since": since})
    out = []
    for item in value if isinstance(value, list) else []:
        try:
            peer = msgspec.convert(item, Peer)
        except msgspec.ValidationError:
            log.warning("history: dropped a malformed chat from the page: %.200r", item)
            continue
        if not peer.is_group and not is_broadcast_id(peer.wa_id):
            out.append(peer)
    return out


async def messages_since(call: Call, chat: str, since: float) -> list[InboundMessage]:
    value = await call("history", {"chat": chat, "since": since, "limit": MAX_PER_CHAT})
    out = []
    for item in value if isinstance(value, list) else []:
        try:
            out.append(msgspec.convert(item, InboundMessage))
        except msgspec.ValidationError:
            log.warning("history: dropped a malformed message from the page: %.200r", item)
    return sorted(out, key=lambda m: m.timestamp)
