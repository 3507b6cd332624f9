"""The `wa` role: runs the WhatsApp sessions this process holds a lease on.

Every few seconds the manager renews its leases, claims sessions that should be
connected and are held by nobody (or by a process whose lease expired: a dead node's
sessions are taken over), and stops the ones it should no longer run. Each session's
engine reports through a host into the pipeline; status and QR changes go to the
session row and the bus. A crashed engine is restarted with exponential backoff and
jitter; a permanent disconnect (logged out, banned, needs update) is recorded and not
retried, so a logged-out phone never loops. Restarts are rate-limited too: past
RESTART_LIMIT within RESTART_WINDOW (or when the engine itself gave up), a crashed
session is down for good until someone connects it again, so a crash that restarting
does not cure never becomes a restart loop; a NETWORK disconnect is then retried only
at the budget's own rate (the network may come back).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import msgspec
import uvicorn
from aiolimiter import AsyncLimiter

from wacc.bus import Bus, org_topic
from wacc.engines.contract import (
    OPTIONAL_COMMANDS,
    PERMANENT_DISCONNECTS,
    Authenticated,
    Command,
    Disconnected,
    DisconnectReason,
    DownloadMedia,
    Edit,
    Engine,
    EngineEvent,
    EngineFactory,
    History,
    HistoryChats,
    HistoryEngine,
    Logout,
    MarkRead,
    NotConnectedError,
    OutboundMessage,
    PairingCode,
    Peer,
    PermanentEngineError,
    ProfilePicture,
    QrCode,
    Ready,
    RequestPairingCode,
    Revoke,
    Send,
    SetBlocked,
    StateChanged,
    Typing,
    decode_command,
)
from wacc.lib.clock import iso, utcnow
from wacc.logs import get_logger
from wacc.security.crypto import Keyring
from wacc.sessions.inbound import InboundPipeline, SessionRef
from wacc.sessions.rpc import make_rpc_app
from wacc.sessions.tables import SessionLease, SessionStatus, WhatsAppSession

log = get_logger(__name__)

MAX_BACKOFF = 60.0
# At most this many automatic restarts of one session within RESTART_WINDOW seconds
# (the limit wacc.engines.web.Supervisor applies by default): the backoff alone would
# restart a session that crashes after every start once a minute, forever.
RESTART_LIMIT = 10
RESTART_WINDOW = 3600.0


@dataclass
class Running:
    ref: SessionRef
    engine: Engine
    limiter: AsyncLimiter
    settings: dict[str, Any] = field(default_factory=dict)
    failures: int = 0
    ready: bool = False
    restart: asyncio.TimerHandle | None = None
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Host:
    """What one engine sees of wacc."""

    def __init__(self, manager: SessionManager, ref: SessionRef, settings: dict[str, Any],
                 data_dir: Path) -> None:
        self.manager = manager
        self.ref = ref
        self.session_id = ref.id
        self.settings = settings
        self.data_dir = data_dir

    async def emit(self, event: EngineEvent) -> None:
        await self.manager.on_event(self.ref, event)

    async def last_inbound(self, peer: Peer) -> float | None:
        """When *peer* last wrote through this session, from the stored messages (the
        Cloud API's 24-hour window, right after a restart too)."""
        return await self.manager.pipeline.last_inbound_at(self.session_id, peer.wa_id, peer.phone)


class SessionManager:
    def __init__(self, *, engines: dict[str, EngineFactory], pipeline: InboundPipeline, bus: Bus,
                 keyring: Keyring, data_dir: Path, lease_seconds: int, rpc_host: str,
                 rpc_port: int, on_ready: Any = None,
                 restart_limit: tuple[int, float] = (RESTART_LIMIT, RESTART_WINDOW),
                 backoff_base: float = 1.0) -> None:
        self.engines = engines
        self.pipeline = pipeline
        self.bus = bus
        self.keyring = keyring
        self.data_dir = data_dir
        self.lease = timedelta(seconds=lease_seconds)
        self.rpc_host, self.rpc_port = rpc_host, rpc_port
        self.on_ready = on_ready  # called with a session id when it becomes ready
        self.node_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.running: dict[str, Running] = {}
        # When each session was restarted automatically (monotonic), kept across the
        # engines started one after another for it; forgotten on a fresh start.
        self.restarts: dict[str, deque[float]] = {}
        self.restart_limit = restart_limit
        self.backoff_base = backoff_base  # the first restart's delay, doubling to MAX_BACKOFF
        self.rpc_url = ""
        self._server: uvicorn.Server | None = None
        self._server_task: asyncio.Task[None] | None = None

    # -- the loop --------------------------------------------------------------------

    async def serve(self, stop: asyncio.Event) -> None:
        await self._start_rpc()
        log.info("wa manager started", node=self.node_id, rpc=self.rpc_url)
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except Exception:
                    log.exception("wa manager tick failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.lease.total_seconds() / 3)
        finally:
            await self.shutdown()

    async def tick(self) -> None:
        now = utcnow()
        if self.running:
            await SessionLease.update({SessionLease.expires_at: now + self.lease}).where(
                (SessionLease.node_id == self.node_id)
                & SessionLease.session.is_in(list(self.running))
            )
        wanted = await WhatsAppSession.select(
            WhatsAppSession.id, WhatsAppSession.organization, WhatsAppSession.engine,
        ).where(WhatsAppSession.desired_state == SessionStatus.CONNECTED.value)
        wanted_ids = {row["id"] for row in wanted}
        held = {r["session"] for r in await SessionLease.select(SessionLease.session).where(
            (SessionLease.node_id == self.node_id) & (SessionLease.expires_at > now))}
        for session_id in list(self.running):
            if session_id not in wanted_ids or session_id not in held:
                await self.stop_session(session_id, release=session_id in held)
        for row in wanted:
            if row["id"] not in self.running and await self._claim(row["id"], now):
                await self.start_session(row)

    async def _claim(self, session_id: str, now: Any) -> bool:
        """Take the lease if nobody holds it or its holder stopped renewing it."""
        expires = now + self.lease
        inserted = await SessionLease.insert(
            SessionLease(session=session_id, node_id=self.node_id, rpc_url=self.rpc_url,
                         expires_at=expires, acquired_at=now)
        ).on_conflict(action="DO NOTHING").returning(SessionLease.id)
        if inserted:
            return True
        taken = await SessionLease.update({
            SessionLease.node_id: self.node_id, SessionLease.rpc_url: self.rpc_url,
            SessionLease.expires_at: expires, SessionLease.acquired_at: now,
        }).where((SessionLease.session == session_id) & (SessionLease.expires_at <= now)).returning(
            SessionLease.id)
        if taken:
            log.info("session taken over", session=session_id, node=self.node_id)
        return bool(taken)

    # -- sessions --------------------------------------------------------------------

    async def start_session(self, row: dict[str, Any]) -> None:
        session_id = row["id"]
        factory = self.engines.get(row["engine"])
        ref = SessionRef(id=session_id, organization_id=row["organization"])
        if factory is None:
            await self._set_status(ref, SessionStatus.FAILED,
                                   error=f"engine {row['engine']!r} is not installed")
            await WhatsAppSession.update({WhatsAppSession.desired_state: "DISCONNECTED"}).where(
                WhatsAppSession.id == session_id)
            return
        full = await WhatsAppSession.select(
            WhatsAppSession.settings, WhatsAppSession.credentials).where(
            WhatsAppSession.id == session_id).output(load_json=True).first()
        settings = dict((full or {}).get("settings") or {})
        if full and full.get("credentials"):
            creds = self.keyring.decrypt(full["credentials"], "whatsapp_session.credentials")
            settings.update(msgspec.json.decode(creds))
        data_dir = self.data_dir / "sessions" / session_id
        data_dir.mkdir(parents=True, exist_ok=True)
        engine = factory(Host(self, ref, settings, data_dir))
        rate = float(settings.get("rate_per_second") or engine.default_rate)
        running = Running(ref=ref, engine=engine, limiter=AsyncLimiter(max(rate, 0.01), 1),
                          settings=settings)
        previous = self.running.get(session_id)
        if previous is not None:
            running.failures = previous.failures
        else:
            # Started because someone (or a lease takeover) wants it connected, not by
            # our own restart: the restart budget starts over.
            self.restarts.pop(session_id, None)
        self.running[session_id] = running
        await self._set_status(ref, SessionStatus.LOADING)
        try:
            await engine.start()
        except Exception as exc:
            log.exception("engine failed to start", session=session_id)
            await self.on_event(ref, Disconnected(reason=DisconnectReason.CRASHED, detail=str(exc)[:200]))

    async def stop_session(self, session_id: str, release: bool = True) -> None:
        running = self.running.pop(session_id, None)
        if running is None:
            return
        if running.restart is not None:
            running.restart.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running.engine.stop(), 30)
        if release:
            await SessionLease.delete().where(
                (SessionLease.session == session_id) & (SessionLease.node_id == self.node_id))
        if await WhatsAppSession.exists().where(WhatsAppSession.id == session_id):
            await self._set_status(running.ref, SessionStatus.DISCONNECTED)

    async def shutdown(self) -> None:
        for session_id in list(self.running):
            await self.stop_session(session_id)
        await self.pipeline.close()
        if self._server is not None:
            self._server.should_exit = True
            if self._server_task is not None:
                with contextlib.suppress(Exception):
                    await self._server_task

    # -- events from engines ---------------------------------------------------------

    async def on_event(self, ref: SessionRef, event: EngineEvent) -> None:
        running = self.running.get(ref.id)
        if isinstance(event, QrCode):
            await self._set_status(ref, SessionStatus.QR_READY, qr=event.code,
                                   extra={"attempt": event.attempt})
        elif isinstance(event, PairingCode):
            await self._publish(ref, "session:pairing_code", {"code": event.code})
        elif isinstance(event, Authenticated | StateChanged):
            await self._set_status(ref, SessionStatus.LOADING, qr=None,
                                   extra={"state": getattr(event, "state", "AUTHENTICATED")})
        elif isinstance(event, Ready):
            if running is not None:
                running.ready, running.failures = True, 0
            await WhatsAppSession.update({
                WhatsAppSession.phone_number: event.me.phone,
                WhatsAppSession.last_seen: utcnow(), WhatsAppSession.last_error: None,
            }).where(WhatsAppSession.id == ref.id)
            await self._set_status(ref, SessionStatus.CONNECTED, qr=None,
                                   extra={"phone": event.me.phone})
            if self.on_ready is not None:
                await self.on_ready(ref.id)
        elif isinstance(event, Disconnected):
            await self._disconnected(ref, event)
        else:
            fetch = running.engine.download_media if running else None
            defer = bool(getattr(running.engine, "defer_media", False)) if running else False
            await self.pipeline.handle(ref, event, fetch, defer_media=defer)

    async def _disconnected(self, ref: SessionRef, event: Disconnected) -> None:
        running = self.running.get(ref.id)
        if running is not None:
            running.ready = False
        if event.reason is DisconnectReason.STOPPED:
            return
        # Not retried either: QR_TIMEOUT (nobody scanned) and CONFLICT (the number was
        # opened in another WhatsApp Web; taking it back by ourselves would ping-pong).
        permanent = event.reason in PERMANENT_DISCONNECTS or event.reason in (
            DisconnectReason.QR_TIMEOUT, DisconnectReason.CONFLICT) or event.final
        detail = f"{event.reason.value}: {event.detail}".strip(": ")
        limit, window = self.restart_limit
        slow = False  # past the budget, but the network may come back: retry rarely
        if not permanent and not self._spend_restart(ref.id):
            if event.reason is DisconnectReason.NETWORK:
                slow = True
            else:
                permanent = True
                detail = (f"{event.reason.value}: not restarted: {limit} restarts within "
                          f"{window / 3600:g} h already; last: {event.detail}")
                log.error("session restart budget used up", session=ref.id, detail=detail)
        if permanent:
            # Not retried: the user must act (scan again, update, appeal a ban).
            await WhatsAppSession.update({WhatsAppSession.desired_state: "DISCONNECTED"}).where(
                WhatsAppSession.id == ref.id)
            status = SessionStatus.DISCONNECTED if event.reason in (
                DisconnectReason.LOGGED_OUT, DisconnectReason.QR_TIMEOUT, DisconnectReason.CONFLICT,
            ) else SessionStatus.FAILED
            await self._set_status(ref, status, qr=None, error=detail,
                                   extra={"reason": event.reason.value})
            await self.stop_session(ref.id)
            return
        await self._set_status(ref, SessionStatus.LOADING, error=detail,
                               extra={"reason": event.reason.value, "retrying": True})
        if running is not None:
            running.failures += 1
            delay = min(MAX_BACKOFF, self.backoff_base * 2 ** (running.failures - 1))
            if slow:
                # No faster than the budget's own rate (an hour / 10 = 6 min by default).
                delay = window / limit
            delay *= random.uniform(0.8, 1.2)  # noqa: S311
            log.warning("session disconnected; restarting", session=ref.id,
                        reason=event.reason.value, delay=round(delay, 2))
            running.restart = asyncio.get_running_loop().call_later(
                delay, lambda: asyncio.ensure_future(self._restart(ref.id)))

    def _spend_restart(self, session_id: str) -> bool:
        """Count one automatic restart of *session_id*; False when the limit's count
        were already made within its window."""
        now, (limit, window) = time.monotonic(), self.restart_limit
        times = self.restarts.setdefault(session_id, deque())
        while times and now - times[0] >= window:
            times.popleft()
        if len(times) >= limit:
            return False
        times.append(now)
        return True

    async def _restart(self, session_id: str) -> None:
        running = self.running.get(session_id)
        if running is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running.engine.stop(), 30)
        row = await WhatsAppSession.select(
            WhatsAppSession.id, WhatsAppSession.organization, WhatsAppSession.engine,
            WhatsAppSession.desired_state).where(WhatsAppSession.id == session_id).first()
        if row is None or row["desired_state"] != SessionStatus.CONNECTED.value:
            await self.stop_session(session_id)
            return
        await self.start_session(row)

    async def _set_status(self, ref: SessionRef, status: SessionStatus, *, qr: Any = ...,
                          error: str | None = None, extra: dict[str, Any] | None = None) -> None:
        values: dict[Any, Any] = {WhatsAppSession.status: status.value}
        if qr is not ...:
            values[WhatsAppSession.qr_code] = qr
        if error is not None:
            values[WhatsAppSession.last_error] = error
        await WhatsAppSession.update(values).where(WhatsAppSession.id == ref.id)
        payload = {"status": status.value, **(extra or {})}
        if qr is not ... and qr is not None:
            payload["qr"] = qr
        if error:
            payload["error"] = error
        await self._publish(ref, "session:qr" if status is SessionStatus.QR_READY else "session:status",
                            payload)

    async def _publish(self, ref: SessionRef, kind: str, payload: dict[str, Any]) -> None:
        await self.bus.publish(org_topic(ref.organization_id),
                               {"type": kind, "sessionId": ref.id, "at": iso(utcnow()), **payload})

    # -- commands from other processes -----------------------------------------------------

    async def dispatch(self, session_id: str, method: str, args: dict[str, Any]) -> Any:
        running = self.running.get(session_id)
        if running is None:
            raise NotConnectedError("this process does not run the session")
        engine = running.engine
        if method in OPTIONAL_COMMANDS and not hasattr(engine, method):
            raise PermanentEngineError(
                f"the {engine.name} engine cannot read past messages", code="unsupported")
        command = decode_command(method, args)
        if command is None:
            # A call of the engine's own (its rpc_methods), outside the contract.
            if method not in getattr(engine, "rpc_methods", ()):
                raise PermanentEngineError(f"unknown session command {method!r}")
            return await getattr(engine, method)(**args)
        return await self._run(running, command)

    async def _run(self, running: Running, command: Command) -> Any:
        engine = running.engine
        match command:
            case Send(message=message):
                # One send at a time per session, at the engine's pace (WhatsApp Web bans
                # numbers that burst; the Cloud API allows about 80/s).
                async with running.send_lock, running.limiter:
                    await self._humanize(running, message)
                    return await engine.send(message)
            case Edit(chat=chat, message_id=message_id, body=body):
                return await engine.edit(chat, message_id, body)
            case Revoke(chat=chat, message_id=message_id):
                return await engine.revoke(chat, message_id)
            case MarkRead(chat=chat, message_ids=message_ids):
                return await engine.mark_read(chat, message_ids)
            case Typing(chat=chat, on=on):
                return await engine.typing(chat, on)
            case ProfilePicture(peer=peer):
                return await engine.profile_picture(peer)
            case SetBlocked(peer=peer, blocked=blocked):
                return await engine.set_blocked(peer, blocked)
            case RequestPairingCode(phone=phone):
                return await engine.request_pairing_code(phone)
            case Logout():
                return await engine.logout()
            case DownloadMedia(media=media):
                return await engine.download_media(media)
            case HistoryChats(since=since):
                return await cast(HistoryEngine, engine).history_chats(since)
            case History(chat=chat, since=since):
                return await cast(HistoryEngine, engine).history(chat, since)

    async def _humanize(self, running: Running, message: OutboundMessage) -> None:
        """Optional pauses before a send: random jitter (WhatsApp Web flags perfectly
        regular senders) and a typing indicator for about as long as typing would take."""
        jitter = float(running.settings.get("send_jitter_seconds",
                                            getattr(running.engine, "send_jitter", 0.0)))
        if jitter > 0:
            await asyncio.sleep(random.uniform(0, jitter))  # noqa: S311
        if running.settings.get("typing_indicator") and message.type == "TEXT" and message.body:
            with contextlib.suppress(Exception):  # cosmetic: never fail a send over it
                await running.engine.typing(message.to, True)
                await asyncio.sleep(min(4.0, 0.5 + len(message.body) / 40))
                await running.engine.typing(message.to, False)

    async def _start_rpc(self) -> None:
        app = make_rpc_app(self.keyring, self.dispatch)
        sock = socket.socket(socket.AF_INET6 if ":" in self.rpc_host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.rpc_host, self.rpc_port))
        host, port = sock.getsockname()[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
        self.rpc_url = f"http://{shown}:{port}"
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._server_task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._server_task.done():
                self._server_task.result()
            await asyncio.sleep(0.01)
