"""Which bus events one connection may receive.

Every event names what it is about; the receiver's organization is already fixed by
the topic it subscribed to, so this decides by role permission and, for agents limited
to their own conversations, by assignment. Event types not listed here never leave the
server, so a new internal event is private until someone decides otherwise.
"""

from __future__ import annotations

import time
from typing import Any

from wacc.conversations import inbox as conversations
from wacc.lib.errors import NotFoundError
from wacc.security.principal import Principal

# type -> the permission a receiver needs
FORWARDED: dict[str, str] = {
    "message:new": "read:messages",
    "message:ack": "read:messages",
    "message:edited": "read:messages",
    "message:deleted": "read:messages",
    "message:reaction": "read:messages",
    "conversation:updated": "read:conversations",
    "conversation:assigned": "read:conversations",
    "note:new": "read:conversations",
    "typing:start": "read:conversations",
    "typing:stop": "read:conversations",
    "presence:update": "read:users",
    "notification": "read:conversations",
    "session:status": "read:sessions",
    # Whoever sees a QR or pairing code can link the phone: administrators only.
    "session:qr": "write:sessions",
    "session:pairing_code": "write:sessions",
    "import:progress": "write:contacts",
}
# Sent to one user only (the one the event names).
_TO_ONE_USER = {"notification"}
_OWN_ONLY_TTL = 30.0  # seconds an organization's visibility setting is trusted
_CACHE_MAX = 2000


class Audience:
    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self._own_only: tuple[bool, float] | None = None
        self._seen: dict[str, bool] = {}  # conversation id -> visible (own-only agents)

    async def admits(self, event: dict[str, Any]) -> bool:
        permission = FORWARDED.get(str(event.get("type")))
        if permission is None or not self.principal.can(permission):
            return False
        kind = event["type"]
        if kind in _TO_ONE_USER:
            return event.get("userId") == self.principal.user_id
        conversation_id = event.get("conversationId")
        if not conversation_id:
            return True
        if kind == "conversation:assigned":
            return await self._assignment_changed(event)
        return await self.sees(str(conversation_id))

    async def sees(self, conversation_id: str) -> bool:
        if not await self._restricted():
            return True
        if conversation_id not in self._seen:
            if len(self._seen) >= _CACHE_MAX:
                self._seen.clear()
            try:
                await conversations.visible(self.principal, conversation_id)
                self._seen[conversation_id] = True
            except NotFoundError:
                self._seen[conversation_id] = False
        return self._seen[conversation_id]

    async def _assignment_changed(self, event: dict[str, Any]) -> bool:
        if not await self._restricted():
            return True
        me = self.principal.user_id
        assigned = me in (event.get("assignees") or [])
        self._seen[str(event["conversationId"])] = assigned
        # An agent who just lost the conversation hears so, to drop it from their list.
        return assigned or me in (event.get("removed") or [])

    async def _restricted(self) -> bool:
        now = time.monotonic()
        if self._own_only is None or self._own_only[1] < now:
            own = await conversations.restricted_to_own(self.principal)
            if self._own_only is not None and own != self._own_only[0]:
                self._seen.clear()
            self._own_only = (own, now + _OWN_ONLY_TTL)
        return self._own_only[0]
