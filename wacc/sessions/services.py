"""WhatsApp sessions: create, list, connect, disconnect, delete, QR — scoped to the
caller's organization. The engine itself runs in a `wa` process (manager.py); these
services record what the user wants and ask that process through SessionRpc."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from wacc.bus import Bus, org_topic
from wacc.engines.contract import EngineCommand, EngineError, Logout, NotConnectedError
from wacc.lib.clock import iso, utcnow
from wacc.lib.errors import (
    AuthenticationError,
    AuthorizationError,
    ConflictError,
    NotFoundError,
    ServiceUnavailableError,
    ValidationError,
)
from wacc.lib.ids import new_id
from wacc.security.crypto import Keyring
from wacc.security.destinations import refused_destination
from wacc.security.principal import Principal
from wacc.sessions.rpc import SessionRpc
from wacc.sessions.schemas import SessionCreate, SessionOut, SessionUpdate
from wacc.sessions.tables import SessionStatus, WhatsAppSession

CREDENTIALS_CONTEXT = "whatsapp_session.credentials"
MAX_SETTINGS_BYTES = 16_384


def _out(row: dict[str, Any]) -> SessionOut:
    settings = row["settings"]
    if isinstance(settings, str):
        settings = json.loads(settings)
    return SessionOut(
        id=row["id"], name=row["name"], engine=row["engine"], status=row["status"],
        desired_state=row["desired_state"], phone_number=row["phone_number"],
        has_qr=bool(row["qr_code"]), last_seen=row["last_seen"], last_error=row["last_error"],
        settings=settings or {}, created_at=row["created_at"],
    )


async def _row(principal: Principal, session_id: str) -> dict[str, Any]:
    row = await WhatsAppSession.select().where(
        (WhatsAppSession.id == session_id)
        & (WhatsAppSession.organization == principal.organization_id)
    ).first()
    if row is None:
        raise NotFoundError("Session not found")
    return row


HISTORY_MAX_DAYS = 365


def _check_settings(settings: dict[str, Any], field: str) -> None:
    if len(msgspec.json.encode(settings)) > MAX_SETTINGS_BYTES:
        raise ValidationError.field(field, f"larger than {MAX_SETTINGS_BYTES} bytes")
    if field == "settings":
        # Read by wacc itself (wacc.sessions.history), whatever the engine.
        days = settings.get("history_days", 0)
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= HISTORY_MAX_DAYS:
            raise ValidationError.field("settings.history_days",
                                        f"a whole number of days, 0-{HISTORY_MAX_DAYS}")
        if not isinstance(settings.get("backfill", True), bool):
            raise ValidationError.field("settings.backfill", "true or false")


async def _check_base_url(settings: dict[str, Any], allow_private_urls: bool) -> None:
    """An engine's ``base_url`` receives the session's access token: checked by the same
    SSRF guard as automation webhooks (wacc.security.destinations)."""
    url = settings.get("base_url")
    if url is None:
        return
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError.field("settings.base_url", "must be an http(s) URL")
    if not allow_private_urls:
        problem = await refused_destination(url)
        if problem is not None:
            raise ValidationError.field(
                "settings.base_url", f"{problem} (the operator can allow internal addresses "
                "with WACC_WA_ALLOW_PRIVATE_URLS)")


async def create(principal: Principal, data: SessionCreate, engines: set[str],
                 keyring: Keyring, *, allow_private_urls: bool = False) -> SessionOut:
    if data.engine not in engines:
        raise ValidationError.field(
            "engine", f"unknown engine {data.engine!r}; installed: {', '.join(sorted(engines))}")
    _check_settings(data.settings, "settings")
    _check_settings(data.credentials, "credentials")
    await _check_base_url(data.settings, allow_private_urls)
    session_id = new_id()
    creds = (keyring.encrypt(msgspec.json.encode(data.credentials).decode(), CREDENTIALS_CONTEXT)
             if data.credentials else None)
    await WhatsAppSession.insert(WhatsAppSession(
        id=session_id, organization=principal.organization_id, name=data.name.strip(),
        engine=data.engine, settings=data.settings, credentials=creds,
        desired_state=(SessionStatus.CONNECTED if data.connect else SessionStatus.DISCONNECTED).value,
        status=(SessionStatus.LOADING if data.connect else SessionStatus.DISCONNECTED).value,
    ))
    return _out(await _row(principal, session_id))


async def list_sessions(principal: Principal) -> list[SessionOut]:
    rows = await WhatsAppSession.select().where(
        WhatsAppSession.organization == principal.organization_id
    ).order_by(WhatsAppSession.created_at)
    return [_out(r) for r in rows]


async def get(principal: Principal, session_id: str) -> SessionOut:
    return _out(await _row(principal, session_id))


async def update(principal: Principal, session_id: str, data: SessionUpdate,
                 keyring: Keyring, *, allow_private_urls: bool = False) -> SessionOut:
    await _row(principal, session_id)
    values: dict[Any, Any] = {}
    if data.name is not None:
        values[WhatsAppSession.name] = data.name.strip()
    if data.settings is not None:
        _check_settings(data.settings, "settings")
        await _check_base_url(data.settings, allow_private_urls)
        values[WhatsAppSession.settings] = data.settings
    if data.credentials is not None:
        _check_settings(data.credentials, "credentials")
        values[WhatsAppSession.credentials] = keyring.encrypt(
            msgspec.json.encode(data.credentials).decode(), CREDENTIALS_CONTEXT)
    if values:
        await WhatsAppSession.update(values).where(WhatsAppSession.id == session_id)
    return await get(principal, session_id)


async def set_desired(principal: Principal, session_id: str, connected: bool) -> SessionOut:
    row = await _row(principal, session_id)
    desired = SessionStatus.CONNECTED if connected else SessionStatus.DISCONNECTED
    values: dict[Any, Any] = {WhatsAppSession.desired_state: desired.value}
    if connected and row["status"] in (SessionStatus.DISCONNECTED.value, SessionStatus.FAILED.value):
        values[WhatsAppSession.status] = SessionStatus.LOADING.value
        values[WhatsAppSession.last_error] = None
    await WhatsAppSession.update(values).where(WhatsAppSession.id == session_id)
    return await get(principal, session_id)


async def delete(principal: Principal, session_id: str, rpc: SessionRpc, data_dir: Path) -> None:
    """Log the phone out (when running), wipe the session's files, delete it (its
    conversations and messages go with it)."""
    await _row(principal, session_id)
    await WhatsAppSession.update({WhatsAppSession.desired_state: "DISCONNECTED"}).where(
        WhatsAppSession.id == session_id)
    with contextlib.suppress(EngineError):
        await rpc.call(session_id, Logout())
    await WhatsAppSession.delete().where(WhatsAppSession.id == session_id)
    profile = data_dir / "sessions" / session_id
    shutil.rmtree(profile, ignore_errors=True)


async def qr(principal: Principal, session_id: str) -> tuple[str, str | None]:
    row = await _row(principal, session_id)
    return row["status"], row["qr_code"]


async def command(principal: Principal, session_id: str, rpc: SessionRpc,
                  method: str | EngineCommand, **args: Any) -> Any:
    """Run an engine command on the session's process; clear errors when it can't."""
    row = await _row(principal, session_id)
    try:
        return await rpc.call(session_id, method, **args)
    except NotConnectedError as exc:
        if row["desired_state"] != SessionStatus.CONNECTED.value:
            raise ConflictError("The session is disconnected; connect it first") from None
        raise ServiceUnavailableError(f"The session is not running yet: {exc}") from None
    except EngineError as exc:
        if exc.permanent:
            raise ValidationError(str(exc), [{"field": "engine", "message": str(exc)}]) from None
        raise ServiceUnavailableError(str(exc)) from None


async def webhook_call(rpc: SessionRpc, session_id: str, method: str, **args: Any) -> Any:
    """Hand a provider's webhook to the session's engine. A forged or malformed one is
    refused (401/400); while the session is not running we answer 503 so the provider
    retries later (Meta keeps retrying for days)."""
    exists = await WhatsAppSession.exists().where(WhatsAppSession.id == session_id)
    if not exists:
        raise NotFoundError("Session not found")
    return await forward_to_engine(rpc, session_id, method, **args)


async def forward_to_engine(rpc: SessionRpc, session_id: str, method: str, **args: Any) -> Any:
    """Call a running session's engine for a provider's webhook, its errors in the seed's
    format: forged 401, malformed 400, not running (or a passing failure) 503."""
    try:
        return await rpc.call(session_id, method, **args)
    except NotConnectedError:
        raise ServiceUnavailableError("The session is not running; retry later") from None
    except EngineError as exc:
        if not exc.permanent:
            raise ServiceUnavailableError(str(exc)) from None
        if exc.code == "BAD_SIGNATURE":
            raise AuthenticationError(str(exc)) from None
        if exc.code == "FORBIDDEN":
            raise AuthorizationError(str(exc)) from None
        raise ValidationError(str(exc), [{"field": "body", "message": str(exc)}]) from None


async def record_alert(bus: Bus, session_id: str, organization_id: str, code: str,
                       detail: str) -> None:
    """An engine's alert (SessionAlert: the provider's own error report, or an event it
    had to skip): kept as the session's last error and published as ``session:alert``
    for the UI. The status is left alone: the session still works."""
    text = f"{code}: {detail}"[:1000]
    await WhatsAppSession.update({WhatsAppSession.last_error: text}).where(
        WhatsAppSession.id == session_id)
    await bus.publish(org_topic(organization_id), {
        "type": "session:alert", "sessionId": session_id, "code": code, "detail": detail,
        "at": iso(utcnow())})


async def engine_of(principal: Principal, session_id: str) -> str:
    return (await _row(principal, session_id))["engine"]
