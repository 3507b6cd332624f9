"""One WebSocket client, from authentication to close (seed 5.2).

The client authenticates with its first event (an access token or API key in the
message, never in the URL, so it stays out of proxy logs). Then two loops run: one
reads the client's events (join/leave a conversation, typing, message:send), one
forwards the organization's bus events this client may see. Every client event counts
against a per-connection limit; garbage gets an error event in the seed's error format
and the connection stays open, while a client that keeps flooding is closed.

Close codes: 4400 unusable input, 4401 not (or no longer) authenticated, 4408 no
authentication in time, 4429 flooding.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Annotated, Any

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from wacc.apikeys.services import KEY_PREFIX
from wacc.bus import org_topic
from wacc.conversations import inbox as conversations
from wacc.http.errors import error_body
from wacc.lib.errors import (
    AuthenticationError,
    AuthorizationError,
    RateLimitError,
    ValidationError,
    WaccError,
)
from wacc.logs import get_logger
from wacc.messages import services as messages
from wacc.messages.schemas import MessageSend
from wacc.realtime.audience import Audience
from wacc.realtime.presence import presence_of
from wacc.runtime import Runtime
from wacc.security.limits import per_minute
from wacc.security.principal import Principal

log = get_logger("wacc.realtime")

AUTH_SECONDS = 10.0
HEARTBEAT_SECONDS = 20.0  # presence refresh and credential re-check
MAX_JOINED = 100
# Close after this many refused events in a row: an error per event is enough warning.
MAX_REFUSED = 20

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Ref = Annotated[str, msgspec.Meta(max_length=64)]


class ClientEvent(msgspec.Struct, tag_field="type", forbid_unknown_fields=True,
                  rename="camel", kw_only=True):
    ref: Ref | None = None  # echoed in the reply, so a client can pair them


class Authenticate(ClientEvent, tag="authenticate"):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


class Join(ClientEvent, tag="join:conversation"):
    conversation_id: Id


class Leave(ClientEvent, tag="leave:conversation"):
    conversation_id: Id


class TypingStart(ClientEvent, tag="typing:start"):
    conversation_id: Id


class TypingStop(ClientEvent, tag="typing:stop"):
    conversation_id: Id


class Send(ClientEvent, tag="message:send"):
    conversation_id: Id
    message: MessageSend


AnyEvent = Authenticate | Join | Leave | TypingStart | TypingStop | Send
_decoder = msgspec.json.Decoder(AnyEvent)


class Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Connection:
    def __init__(self, socket: WebSocket, runtime: Runtime) -> None:
        self.socket = socket
        self.rt = runtime
        self.id = uuid.uuid4().hex
        self.principal: Principal | None = None
        self.credential = ""
        self.audience: Audience | None = None
        self.joined: set[str] = set()
        self.typing: set[str] = set()
        self._send_lock = asyncio.Lock()
        self._limit = per_minute(runtime.settings.security.ws_events_per_minute)
        self._refused = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        await self.socket.accept()
        try:
            await self._authenticate_first()
            await self._serve()
        except Closed as closed:
            with contextlib.suppress(Exception):
                await self.socket.close(closed.code, closed.reason)
        except WebSocketDisconnect:
            pass
        finally:
            await self._goodbye()

    async def _authenticate_first(self) -> None:
        try:
            raw = await asyncio.wait_for(self._receive(), AUTH_SECONDS)
        except TimeoutError:
            raise Closed(4408, "authenticate within 10 seconds") from None
        event = await self._parse(raw)
        if not isinstance(event, Authenticate):
            await self._error(event.ref if event else None,
                              AuthenticationError("Authenticate first"))
            raise Closed(4401, "authenticate first")
        await self._on_authenticate(event)

    async def _serve(self) -> None:
        assert self.principal is not None
        async with self.rt.bus.subscribe(org_topic(self.principal.organization_id)) as events:
            tasks = [asyncio.create_task(self._read_loop()),
                     asyncio.create_task(self._forward(events)),
                     asyncio.create_task(self._heartbeat())]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # re-raise Closed / WebSocketDisconnect
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _goodbye(self) -> None:
        principal = self.principal
        if principal is None or principal.user_id is None:
            return
        with contextlib.suppress(Exception):
            for conversation_id in list(self.typing):
                await self._publish_typing(conversation_id, False)
            if await presence_of(self.rt).leave(principal.organization_id, principal.user_id,
                                                self.id):
                await self._publish_presence("offline")

    # -- reading ---------------------------------------------------------------------

    async def _receive(self) -> str:
        message = await self.socket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(detail="client left", code=message.get("code", 1000))
        text = message.get("text")
        if not isinstance(text, str):
            raise Closed(4400, "send JSON text frames")
        if len(text) > self.rt.settings.security.max_body_bytes:
            raise Closed(1009, "event too large")
        return text

    async def _parse(self, raw: str) -> AnyEvent | None:
        try:
            return _decoder.decode(raw)
        except msgspec.ValidationError as exc:
            await self._error(_ref_of(raw), ValidationError("Invalid event", [
                {"field": "event", "message": str(exc)}]))
        except msgspec.DecodeError:
            await self._error(None, ValidationError("Malformed JSON event"))
        return None

    async def _read_loop(self) -> None:
        while True:
            raw = await self._receive()
            if not await self._allowed():
                continue
            event = await self._parse(raw)
            if event is None:
                continue
            try:
                await self._handle(event)
            except WaccError as exc:
                await self._error(event.ref, exc)

    async def _allowed(self) -> bool:
        verdict = await self.rt.limiter.hit(self._limit, "ws", self.id)
        if verdict.allowed:
            self._refused = 0
            return True
        self._refused += 1
        if self._refused > MAX_REFUSED:
            raise Closed(4429, "too many events")
        await self._error(None, RateLimitError(
            f"More than {verdict.limit} events a minute; wait {verdict.retry_after} s",
            verdict.retry_after))
        return False

    async def _handle(self, event: AnyEvent) -> None:
        assert self.principal is not None and self.audience is not None
        if isinstance(event, Authenticate):
            await self._on_authenticate(event)
        elif isinstance(event, Join):
            await self._require("read:conversations")
            if len(self.joined) >= MAX_JOINED and event.conversation_id not in self.joined:
                raise ValidationError.field("conversationId",
                                            f"join at most {MAX_JOINED} conversations")
            await self._visible(event.conversation_id)
            self.joined.add(event.conversation_id)
            await self._reply(event.ref, {"type": "joined", "conversationId": event.conversation_id})
        elif isinstance(event, Leave):
            self.joined.discard(event.conversation_id)
            await self._reply(event.ref, {"type": "left", "conversationId": event.conversation_id})
        elif isinstance(event, TypingStart | TypingStop):
            await self._require("write:conversations")
            await self._visible(event.conversation_id)
            on = isinstance(event, TypingStart)
            (self.typing.add if on else self.typing.discard)(event.conversation_id)
            await self._publish_typing(event.conversation_id, on)
        elif isinstance(event, Send):
            await self._require("write:messages")
            out, _ = await messages.queue(self.principal, event.conversation_id, event.message,
                                          jobs=self.rt.jobs, bus=self.rt.bus, media=self.rt.media)
            await self._reply(event.ref, {"type": "message:queued",
                                          "message": msgspec.to_builtins(out)})

    async def _require(self, permission: str) -> None:
        assert self.principal is not None
        if not self.principal.can(permission):
            raise AuthorizationError(f"Missing permission {permission}", [
                {"field": "permission", "message": f"requires {permission}"}])

    async def _visible(self, conversation_id: str) -> None:
        assert self.principal is not None
        # Checked on the database each time: a join or typing must never rely on a cache.
        await conversations.visible(self.principal, conversation_id)

    async def _on_authenticate(self, event: Authenticate) -> None:
        authenticate = self.socket.app.state["authenticate"]
        scheme = "api-key" if event.token.startswith(KEY_PREFIX) else "bearer"
        try:
            principal: Principal = await authenticate(scheme, event.token)
        except AuthenticationError as exc:
            await self._error(event.ref, exc)
            raise Closed(4401, "not authenticated") from None
        if self.principal is not None and (
                principal.organization_id, principal.user_id, principal.api_key_id) != (
                self.principal.organization_id, self.principal.user_id,
                self.principal.api_key_id):
            raise Closed(4401, "a connection cannot change who it is; reconnect")
        first = self.principal is None
        self.principal, self.credential = principal, event.token
        self.audience = Audience(principal)
        online: list[str] = []
        if first and principal.user_id is not None and await presence_of(self.rt).join(
                principal.organization_id, principal.user_id, self.id):
            await self._publish_presence("online")
        if principal.can("read:users"):
            online = sorted(await presence_of(self.rt).online(principal.organization_id))
        await self._reply(event.ref, {
            "type": "authenticated", "userId": principal.user_id,
            "organizationId": principal.organization_id,
            "role": principal.role.value if principal.role else None,
            "online": online, "eventsPerMinute": self._limit.amount,
        })

    # -- writing ---------------------------------------------------------------------

    async def _forward(self, events: Any) -> None:
        assert self.audience is not None and self.principal is not None
        async for _, payload in events:
            if payload.get("type", "").startswith("typing:"):
                # Typing goes to those who have the thread open, not to the typist.
                if (payload.get("conversationId") not in self.joined
                        or payload.get("origin") == self.id):
                    continue
                payload = {k: v for k, v in payload.items() if k != "origin"}
            if await self.audience.admits(payload):
                await self._send(payload)

    async def _heartbeat(self) -> None:
        assert self.principal is not None
        authenticate = self.socket.app.state["authenticate"]
        scheme = "api-key" if self.credential.startswith(KEY_PREFIX) else "bearer"
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                # Expired tokens, signed-out sessions, revoked keys and removed users
                # lose the connection here, within one heartbeat.
                await authenticate(scheme, self.credential)
            except AuthenticationError:
                await self._error(None, AuthenticationError(
                    "Your sign-in expired or was revoked; authenticate again"))
                raise Closed(4401, "credentials expired or revoked") from None
            if self.principal.user_id is not None:
                await presence_of(self.rt).beat(self.principal.organization_id,
                                                self.principal.user_id, self.id)

    async def _send(self, payload: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.socket.send_text(msgspec.json.encode(payload).decode())

    async def _reply(self, ref: str | None, payload: dict[str, Any]) -> None:
        await self._send({**payload, **({"ref": ref} if ref else {})})

    async def _error(self, ref: str | None, exc: WaccError) -> None:
        body = error_body(self.socket.scope, exc.status, exc.message, exc.details, exc.code)
        if isinstance(exc, RateLimitError):
            body["error"]["retryAfter"] = exc.retry_after
        await self._reply(ref, {"type": "error", **body})

    async def _publish_typing(self, conversation_id: str, on: bool) -> None:
        assert self.principal is not None
        await self.rt.bus.publish(org_topic(self.principal.organization_id), {
            "type": "typing:start" if on else "typing:stop", "conversationId": conversation_id,
            "userId": self.principal.user_id, "origin": self.id})

    async def _publish_presence(self, status: str) -> None:
        assert self.principal is not None
        await self.rt.bus.publish(org_topic(self.principal.organization_id), {
            "type": "presence:update", "userId": self.principal.user_id, "status": status})


def _ref_of(raw: str) -> str | None:
    """The ref of an event that failed validation, so the error still pairs with it."""
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    ref = value.get("ref") if isinstance(value, dict) else None
    return ref[:64] if isinstance(ref, str) else None

