from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any, Literal

import segno
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromQuery, JSONBody
from litestar.response import ServerSentEvent

from wacc.bus import org_topic
from wacc.engines.contract import RequestPairingCode
from wacc.http.deps import PrincipalDep, RuntimeDep
from wacc.http.params import SessionId
from wacc.lib.errors import NotFoundError, ValidationError
from wacc.sessions import cloud_webhooks, history, services
from wacc.sessions.rpc import rpc_of
from wacc.sessions.schemas import (
    HistoryIn,
    HistoryOut,
    PairingIn,
    PairingOut,
    QrOut,
    SessionCreate,
    SessionOut,
    SessionUpdate,
)

_SESSION_EVENTS = ("session:status", "session:qr", "session:pairing_code")


class SessionController(Controller):
    path = "/whatsapp/sessions"
    tags = ["WhatsApp sessions"]
    opt = {"resource": "session"}

    @get("/", opt={"permission": "read:sessions"})
    async def list_sessions(self, principal: PrincipalDep) -> list[SessionOut]:
        return await services.list_sessions(principal)

    @post("/", opt={"permission": "write:sessions"}, status_code=201)
    async def create_session(self, principal: PrincipalDep, rt: RuntimeDep,
                             data: JSONBody[SessionCreate]) -> SessionOut:
        """Add a session (engine simulator, web or cloud); it connects unless ``connect``
        is false. Watch its QR code at /qr or on /events."""
        return await services.create(principal, data, set(rt.engines), rt.keyring,
                                     allow_private_urls=rt.settings.whatsapp.allow_private_urls)

    @get("/events", opt={"permission": "read:sessions", "stream": True},
         media_type="text/event-stream")
    async def session_events(self, principal: PrincipalDep, rt: RuntimeDep) -> ServerSentEvent:
        """Server-sent events: first each session's current status (and QR code), then
        status, QR and pairing-code changes as they happen. Subscribed before the
        snapshot is read, so no change falls between the two."""
        bus = rt.bus

        async def stream() -> AsyncIterator[dict[str, Any]]:
            async with bus.subscribe(org_topic(principal.organization_id)) as events:
                for session in await services.list_sessions(principal):
                    status, qr = await services.qr(principal, session.id)
                    kind = "session:qr" if status == "QR_READY" and qr else "session:status"
                    snapshot = {"type": kind, "sessionId": session.id, "status": status,
                                "snapshot": True, **({"qr": qr} if kind == "session:qr" else {})}
                    yield {"event": kind, "data": _json(snapshot)}
                async for _, payload in events:
                    if payload.get("type") in _SESSION_EVENTS:
                        yield {"event": payload["type"], "data": _json(payload)}

        return ServerSentEvent(stream())

    @get("/{sessionId:str}", opt={"permission": "read:sessions"})
    async def get_session(self, principal: PrincipalDep, session_id: SessionId) -> SessionOut:
        return await services.get(principal, session_id)

    @patch("/{sessionId:str}", opt={"permission": "write:sessions"})
    async def update_session(self, principal: PrincipalDep, rt: RuntimeDep, session_id: SessionId,
                             data: JSONBody[SessionUpdate]) -> SessionOut:
        return await services.update(principal, session_id, data, rt.keyring,
                                     allow_private_urls=rt.settings.whatsapp.allow_private_urls)

    @delete("/{sessionId:str}", opt={"permission": "write:sessions"}, status_code=204)
    async def delete_session(self, principal: PrincipalDep, rt: RuntimeDep, session_id: SessionId) -> None:
        """Log the phone out, wipe the session's browser profile and delete it."""
        await services.delete(principal, session_id, rpc_of(rt), rt.settings.data_path)

    # also_returns: the success media types besides JSON (wacc/http/openapi.py).
    @get("/{sessionId:str}/qr", opt={"permission": "read:sessions", "also_returns": ("image/png",)},
         responses=None)
    async def get_qr(self, principal: PrincipalDep, session_id: SessionId,
                     format: FromQuery[Literal["json", "png"]] = "json") -> Response[QrOut | bytes]:
        """The current QR code: ``?format=png`` for an image, else JSON with the raw string."""
        status, code = await services.qr(principal, session_id)
        if format == "png":
            if not code:
                raise NotFoundError("No QR code right now (session status: " + status + ")")
            image = segno.make(code, error="l")
            import io

            buffer = io.BytesIO()
            image.save(buffer, kind="png", scale=6, border=2)
            return Response(buffer.getvalue(), media_type="image/png")
        if format != "json":
            raise ValidationError.field("format", "json or png")
        return Response(QrOut(status=status, qr=code))

    @post("/{sessionId:str}/connect", opt={"permission": "write:sessions", "audit": "session.connect"},
          status_code=200)
    async def connect(self, principal: PrincipalDep, session_id: SessionId) -> SessionOut:
        return await services.set_desired(principal, session_id, True)

    @post("/{sessionId:str}/disconnect",
          opt={"permission": "write:sessions", "audit": "session.disconnect"}, status_code=200)
    async def disconnect(self, principal: PrincipalDep, session_id: SessionId) -> SessionOut:
        """Stop the session, keeping its login (connect again needs no QR)."""
        return await services.set_desired(principal, session_id, False)

    @get("/{sessionId:str}/history", opt={"permission": "read:sessions"})
    async def list_history(self, principal: PrincipalDep, session_id: SessionId) -> list[HistoryOut]:
        """Reads of past messages (the first import, back-fills after reconnects), newest
        first, with their progress."""
        await services.get(principal, session_id)
        return await history.list_for(principal, session_id)

    @post("/{sessionId:str}/history",
          opt={"permission": "write:sessions", "audit": "session.history"}, status_code=202)
    async def import_history(self, principal: PrincipalDep, rt: RuntimeDep, session_id: SessionId,
                             data: JSONBody[HistoryIn]) -> HistoryOut:
        """Import the last ``days`` of one-to-one chats from the phone (web and simulator
        engines); messages already stored are skipped. Watch ``GET …/history``."""
        return await history.start(principal, session_id, data.days)

    @post("/{sessionId:str}/pairing-code",
          opt={"permission": "write:sessions", "audit": "session.pairing_code"}, status_code=200)
    async def pairing_code(self, principal: PrincipalDep, rt: RuntimeDep, session_id: SessionId,
                           data: JSONBody[PairingIn]) -> PairingOut:
        """Log in by phone number: type the returned code on the phone."""
        code = await services.command(principal, session_id, rpc_of(rt),
                                      RequestPairingCode(phone=data.phone))
        return PairingOut(code=code)

    # POST /{sessionId}/messages (send to a phone number through this session) is the
    # messages feature's: wacc.messages.controllers.SessionMessageController.

    # The simulator's own endpoints (…/simulator, …/simulator/outbox) come with its plugin:
    # wacc.simulator.controllers.


class EngineWebhookController(Controller):
    """Where an engine's provider calls us (the Cloud API's webhook). Public: the engine
    checks the provider's signature; nothing reaches the pipeline without it."""

    path = "/whatsapp/sessions/{sessionId:str}/webhook"
    tags = ["WhatsApp sessions"]
    # raw_body: the signature is over the bytes as sent (see wacc/http/cleaning.py).
    # errors: a bad signature or verify token (wacc/http/openapi.py documents them).
    opt = {"public": True, "no_rate_limit": True, "no_audit": True, "raw_body": True,
           "errors": (401, 403)}

    @get("/")
    async def verify_webhook(self, request: Request, rt: RuntimeDep, session_id: SessionId) -> Response[str]:
        """The provider's subscription handshake (hub.mode / hub.verify_token / hub.challenge)."""
        challenge = await services.webhook_call(
            rpc_of(rt), session_id, "subscribe", params=dict(request.query_params))
        return Response(str(challenge), media_type="text/plain")

    @post("/", status_code=200, request_max_body_size=4 * 1024 * 1024)
    async def receive_webhook(self, request: Request, rt: RuntimeDep, session_id: SessionId) -> dict[str,
                              Any]:
        """A provider event (messages, statuses), signed with X-Hub-Signature-256. Changes
        for the app's other numbers are routed to their sessions, not dropped."""
        body = await request.body()
        signature = request.headers.get("x-hub-signature-256")
        count = await services.webhook_call(
            rpc_of(rt), session_id, "webhook", body=base64.b64encode(body).decode(), signature=signature)
        others = await cloud_webhooks.receive(rpc_of(rt), rt.keyring, body, signature, session_id=session_id)
        return {**others, "received": count + others["received"]}


class CloudWebhookController(Controller):
    """One callback URL for a Meta app (all its numbers): give Meta
    ``https://<wacc>/api/v1/whatsapp/cloud/webhook``. Public: the signature is checked
    with the app secret of the sessions of the body's numbers."""

    path = "/whatsapp/cloud/webhook"
    tags = ["WhatsApp sessions"]
    # raw_body: the signature is over the bytes as sent (see wacc/http/cleaning.py).
    # errors: a bad signature or verify token (wacc/http/openapi.py documents them).
    opt = {"public": True, "no_rate_limit": True, "no_audit": True, "raw_body": True,
           "errors": (401, 403)}

    @get("/")
    async def verify_app_webhook(self, request: Request, rt: RuntimeDep) -> Response[str]:
        """Meta's subscription handshake, with any cloud session's verify token."""
        challenge = await cloud_webhooks.subscribe(rt.keyring, dict(request.query_params))
        return Response(challenge, media_type="text/plain")

    @post("/", status_code=200, request_max_body_size=4 * 1024 * 1024)
    async def receive_app_webhook(self, request: Request, rt: RuntimeDep) -> dict[str, Any]:
        """Messages and statuses for any of the app's numbers, routed by
        ``metadata.phone_number_id``; unknown numbers are logged and skipped."""
        return await cloud_webhooks.receive(rpc_of(rt), rt.keyring, await request.body(),
                                            request.headers.get("x-hub-signature-256"))


def _json(payload: dict[str, Any]) -> str:
    import json

    return json.dumps(payload, default=str)
