from __future__ import annotations

from typing import Annotated, BinaryIO, cast

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import JSONBody, QueryParameter

from wacc.conversations import inbox as conversations
from wacc.http.deps import PrincipalDep, RuntimeDep
from wacc.http.params import ConversationId, MessageId, SessionId
from wacc.http.uploads import UPLOAD_BODY_CAP, receive_upload
from wacc.lib.errors import ValidationError
from wacc.messages import services
from wacc.messages.schemas import (
    ConversationStart,
    ConversationStarted,
    MessageOut,
    MessagePage,
    MessageSend,
    SendToPhone,
)
from wacc.sessions.rpc import rpc_of


class MessageController(Controller):
    path = "/"
    tags = ["Messages"]
    opt = {"resource": "message"}

    @get("/conversations/{conversationId:str}/messages", opt={"permission": "read:messages"})
    async def list_messages(
        self, principal: PrincipalDep, conversation_id: ConversationId,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> MessagePage:
        """Newest first, cursor-paginated."""
        return await services.list_for_conversation(principal, conversation_id,
                                                    cursor, limit)

    @post("/conversations/{conversationId:str}/messages",
          opt={"permission": "write:messages", "audit": "message.send"},
          status_code=201)
    async def send_message(self, principal: PrincipalDep, rt: RuntimeDep, conversation_id: ConversationId,
                           data: JSONBody[MessageSend]) -> Response[MessageOut]:
        """Queue a message (text, media, location, contact, poll, reaction, reply-to);
        it is sent once, in order, at the session's pace. Acks update its status."""
        out, created = await services.queue(principal, conversation_id, data,
                                            jobs=rt.jobs, bus=rt.bus, media=rt.media)
        return Response(out, status_code=201 if created else 200)

    @post("/conversations", opt={"permission": "write:messages", "resource": "conversation",
                                 "audit": "conversation.start"}, status_code=201)
    async def start_conversation(self, principal: PrincipalDep, rt: RuntimeDep,
                                 data: JSONBody[ConversationStart]) -> Response[ConversationStarted]:
        """Write first: to ``contactId`` or to ``phone`` (E.164; the contact is created),
        through ``sessionId``, with ``message`` as in ``POST /conversations/{id}/messages``.
        The open conversation with that contact on that session is reused; otherwise a new
        one starts. On a Cloud API session a customer who has not written in 24 hours
        gets only a ``message.template``. Queued and sent once, like a reply: repeat the
        request with the same ``message.idempotencyKey`` safely (200, the first one)."""
        out, created = await services.start_conversation(
            principal, data, jobs=rt.jobs, bus=rt.bus, media=rt.media)
        return Response(out, status_code=201 if created else 200)

    @post("/conversations/{conversationId:str}/messages/media",
          opt={"permission": "write:messages", "audit": "message.send"}, status_code=201,
          request_max_body_size=UPLOAD_BODY_CAP)
    async def send_media(self, request: Request, principal: PrincipalDep, rt: RuntimeDep,
                         conversation_id: ConversationId,
                         ) -> Response[MessageOut]:
        """Multipart upload: ``file``, and optionally ``caption``, ``type`` (IMAGE, VIDEO,
        AUDIO, DOCUMENT or STICKER; by default from the file's MIME type), ``replyTo``
        and ``idempotencyKey``. Up to WACC_MEDIA_MAX_BYTES."""
        await conversations.visible(principal, conversation_id)  # 404 before reading a file
        # Kept in the file the server spooled to disk: a 100 MB video is never in memory.
        upload, _, form = await receive_upload(request, "file", rt.media.max_bytes)
        mime = upload.content_type or "application/octet-stream"
        fields = {"type": form.get("type") or services.media_type_for(mime),
                  "body": form.get("caption") or None, "replyTo": form.get("replyTo") or None,
                  "idempotencyKey": form.get("idempotencyKey") or None}
        try:
            message = msgspec.convert({k: v for k, v in fields.items() if v is not None},
                                      MessageSend)
        except msgspec.ValidationError as exc:
            raise ValidationError("Invalid input", [{"field": "form", "message": str(exc)}]) from None
        if message.type not in ("IMAGE", "VIDEO", "AUDIO", "DOCUMENT", "STICKER"):
            raise ValidationError.field("type", "must be a media type for an upload")
        out, created = await services.queue(
            principal, conversation_id, message, jobs=rt.jobs, bus=rt.bus,
            media=rt.media, upload=services.Upload(cast(BinaryIO, upload.file), mime,
                                          upload.filename or None))
        return Response(out, status_code=201 if created else 200)

    @get("/messages/{messageId:str}", opt={"permission": "read:messages"})
    async def get_message(self, principal: PrincipalDep, message_id: MessageId) -> MessageOut:
        return await services.get(principal, message_id)

    @delete("/messages/{messageId:str}", opt={"permission": "write:messages",
                                               "audit": "message.revoke"}, status_code=200)
    async def revoke_message(self, principal: PrincipalDep, rt: RuntimeDep,
                             message_id: MessageId) -> MessageOut:
        """Delete one of our messages for everyone (within WhatsApp's 60 hours), or cancel
        it if it is not sent yet. The customer's phone shows "This message was deleted"."""
        return await services.revoke(principal, message_id, rpc=rpc_of(rt), bus=rt.bus)


class SessionMessageController(Controller):
    """Sending through a session, under the sessions API's path: the URL names the
    session, the work is the messages feature's."""

    path = "/whatsapp/sessions"
    tags = ["WhatsApp sessions"]
    opt = {"resource": "session"}

    @post("/{sessionId:str}/messages", status_code=201, opt={
        "permission": "write:messages", "resource": "message", "audit": "message.send"})
    async def send_to_phone(self, principal: PrincipalDep, rt: RuntimeDep, session_id: SessionId,
                            data: JSONBody[SendToPhone]) -> Response[MessageOut]:
        """Send to a phone number (E.164) through this session; queued, then sent once.
        Repeat a request with the same ``idempotencyKey`` safely: you get the first one."""
        out, created = await services.queue_to_phone(
            principal, session_id, data.to, data, jobs=rt.jobs, bus=rt.bus, media=rt.media)
        return Response(out, status_code=201 if created else 200)
