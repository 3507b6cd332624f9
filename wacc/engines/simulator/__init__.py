"""The simulator engine: a fake WhatsApp network inside wacc, the embedded default.

A session "pairs" by a fake QR scan; a customer-phone API (``simulate``) plays the
customer: sends messages of every type, reads, reacts, edits, revokes, logs the phone
out. What the business sent is kept (``outbox``) with its acks. Deterministic: ids come
from counters and idempotency keys, acks follow fixed steps, so tests and the demo
behave the same every time.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, get_args

import msgspec

from wacc.engines.contract import (
    Ack,
    Authenticated,
    BlockChanged,
    Disconnected,
    DisconnectReason,
    Edited,
    EngineHost,
    IdentityMapped,
    InboundMessage,
    Location,
    Media,
    MessageKind,
    NotConnectedError,
    OutboundMessage,
    PairingCode,
    Peer,
    PermanentEngineError,
    Poll,
    QrCode,
    Reaction,
    Ready,
    Revoked,
    SendResult,
    encode_event,
    is_broadcast_id,
    is_group_id,
)

MESSAGE_KINDS: tuple[str, ...] = get_args(MessageKind)


def _digits(seed: str, n: int) -> str:
    return str(int(hashlib.sha256(seed.encode()).hexdigest(), 16))[:n]


def customer(phone: str, name: str | None = None) -> Peer:
    digits = phone.lstrip("+")
    return Peer(wa_id=f"{digits}@c.us", phone=f"+{digits}", name=name)


class SimulatorEngine:
    name: ClassVar[str] = "simulator"
    default_rate: ClassVar[float] = 20.0
    # Like WhatsApp Web, its ids derive from the idempotency key, and the same key sends
    # nothing new (it remembers every key while the session runs).
    resend_safe: ClassVar[bool] = True
    # Engine-specific calls the session RPC may forward (the customer phone).
    rpc_methods: ClassVar[tuple[str, ...]] = ("simulate", "outbox", "typing_log")

    def __init__(self, host: EngineHost) -> None:
        self.host = host
        phone = host.settings.get("phone") or "+1555" + _digits(host.session_id, 7)
        self.me = customer(phone, host.settings.get("name", "wacc simulator"))
        self.ack_delay = float(host.settings.get("ack_delay", 0.05))
        self._state_file = host.data_dir / "simulator.json"
        self._ready = False
        self._qr_attempt = 0
        self._counter = 0
        self._sent: dict[str, dict[str, Any]] = {}  # WhatsApp id -> what was sent
        self._tasks: set[asyncio.Task[None]] = set()
        self._typing: list[dict[str, Any]] = []
        # What the phone holds, kept across restarts (like a real phone's chats): the
        # history engines read past messages from (``history``).
        self._phone = host.data_dir / "simulator-phone.jsonl"
        # Codes shown before giving up with QR_TIMEOUT (like the web engine's max_qr);
        # 0: no limit.
        self.max_qr = int(host.settings.get("max_qr", 0))

    # -- lifecycle -------------------------------------------------------------------

    def _paired(self) -> bool:
        try:
            return bool(json.loads(self._state_file.read_text()).get("paired"))
        except (OSError, ValueError):
            return False

    def _set_paired(self, paired: bool) -> None:
        self._state_file.parent.mkdir(parents=True, exist_ok=True)
        self._state_file.write_text(json.dumps({"paired": paired}))

    async def start(self) -> None:
        if self._paired():
            await self._become_ready()
        else:
            await self._next_qr()

    async def _next_qr(self) -> None:
        self._qr_attempt += 1
        if self.max_qr and self._qr_attempt > self.max_qr:
            await self.host.emit(Disconnected(reason=DisconnectReason.QR_TIMEOUT,
                                              detail=f"no scan within {self.max_qr} QR codes"))
            return
        await self.host.emit(QrCode(code=f"wacc-simulator:{self.host.session_id}:{self._qr_attempt}",
                                    attempt=self._qr_attempt))

    async def _become_ready(self) -> None:
        self._set_paired(True)
        self._ready = True
        await self.host.emit(Authenticated())
        await self.host.emit(Ready(me=self.me))

    async def stop(self) -> None:
        self._ready = False
        for task in list(self._tasks):
            task.cancel()

    async def logout(self) -> None:
        self._set_paired(False)
        self._ready = False
        await self.host.emit(Disconnected(reason=DisconnectReason.LOGGED_OUT, detail="logged out"))

    async def request_pairing_code(self, phone: str) -> str:
        code = _digits(f"{self.host.session_id}:{phone}", 8)
        await self.host.emit(PairingCode(code=code, phone=phone))
        return code

    # -- actions ---------------------------------------------------------------------

    def _require_ready(self) -> None:
        if not self._ready:
            raise NotConnectedError("the simulated phone is not connected")

    async def send(self, message: OutboundMessage) -> SendResult:
        self._require_ready()
        wa_id = "SIM" + hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:20].upper()
        if wa_id in self._sent:  # the same key again: the same message, not a new one
            return SendResult(id=wa_id, timestamp=self._sent[wa_id]["timestamp"])
        if message.type == "TEXT" and not (message.body or "").strip():
            raise PermanentEngineError("empty text message")
        now = time.time()
        record: dict[str, Any] = {
            "id": wa_id, "to": message.to.wa_id, "type": message.type, "body": message.body,
            "quotedId": message.quoted_id, "reactionTo": message.reaction_to,
            "location": message.location and {"latitude": message.location.latitude,
                                               "longitude": message.location.longitude},
            "vcard": message.vcard,
            "poll": message.poll and {"question": message.poll.question,
                                      "options": message.poll.options},
            "media": message.media and {"mimeType": message.media.mime_type,
                                        "filename": message.media.filename},
            "timestamp": now, "ack": 1,
        }
        self._sent[wa_id] = record
        await self.host.emit(Ack(id=wa_id, chat=message.to, ack=1))
        self._later(self.ack_delay, partial(self._ack, wa_id, message.to, 2))
        return SendResult(id=wa_id, timestamp=now)

    async def _ack(self, wa_id: str, chat: Peer, ack: int) -> None:
        record = self._sent.get(wa_id)
        if record is None or record["ack"] >= ack:
            return
        record["ack"] = ack
        await self.host.emit(Ack(id=wa_id, chat=chat, ack=ack))

    def _later(self, delay: float, action: Callable[[], Awaitable[None]]) -> None:
        # The coroutine is made only after the delay: one made up front and never
        # awaited (the session stopped first) warns "coroutine was never awaited".
        async def run() -> None:
            await asyncio.sleep(delay)
            await action()

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def edit(self, chat: Peer, message_id: str, body: str) -> None:
        self._require_ready()
        self._owned(message_id)["body"] = body

    async def revoke(self, chat: Peer, message_id: str) -> None:
        self._require_ready()
        self._owned(message_id)["revoked"] = True

    def _owned(self, message_id: str) -> dict[str, Any]:
        if message_id not in self._sent:
            raise PermanentEngineError(f"no message {message_id} sent by this session")
        return self._sent[message_id]

    async def mark_read(self, chat: Peer, message_ids: list[str]) -> None:
        self._require_ready()

    async def typing(self, chat: Peer, on: bool) -> None:
        self._require_ready()
        self._typing.append({"to": chat.wa_id, "on": on, "at": time.time()})

    async def typing_log(self) -> list[dict[str, Any]]:
        """Typing indicators the business showed, oldest first."""
        return list(self._typing)

    async def profile_picture(self, peer: Peer) -> str | None:
        return None

    async def set_blocked(self, peer: Peer, blocked: bool) -> None:
        self._require_ready()
        await self.host.emit(BlockChanged(peer=peer, blocked=blocked))

    async def download_media(self, media: Media) -> bytes:
        if media.data is None:
            raise PermanentEngineError("the simulator keeps media inline only")
        return media.data

    # -- the customer's phone -------------------------------------------------------------

    async def outbox(self, to: str | None = None) -> list[dict[str, Any]]:
        """What the business sent (optionally to one customer phone), oldest first."""
        records = sorted(self._sent.values(), key=lambda r: r["timestamp"])
        if to:
            wa_id = customer(to).wa_id
            records = [r for r in records if r["to"] == wa_id]
        return records

    async def simulate(self, action: str, **payload: Any) -> dict[str, Any]:
        """Play the customer (or the phone): scan, message, read, react, edit, revoke,
        logout, identity, block."""
        handler = getattr(self, f"_sim_{action}", None)
        if handler is None:
            raise PermanentEngineError(f"unknown simulator action {action!r}")
        try:  # a field the action does not take is the caller's mistake, not a crash
            inspect.signature(handler).bind(**payload)
        except TypeError as exc:
            raise PermanentEngineError(f"{action}: {exc}") from None
        return await handler(**payload)

    async def _sim_scan(self) -> dict[str, Any]:
        await self._become_ready()
        return {"phone": self.me.phone}

    async def _sim_qr(self) -> dict[str, Any]:
        """The next QR code, as the page shows a new one every ~20 s unscanned."""
        await self._next_qr()
        return {"attempt": self._qr_attempt}

    async def _sim_message(
        self, phone: str, type: MessageKind = "TEXT", body: str | None = None, name: str | None = None,
        id: str | None = None, timestamp: float | None = None, media: dict[str, Any] | None = None,
        location: dict[str, Any] | None = None, vcard: str | None = None,
        poll: dict[str, Any] | None = None, quoted_id: str | None = None,
        reaction_to: str | None = None, from_me: bool = False, lid: str | None = None,
        group: str | None = None, subject: str | None = None, chat: str | None = None,
        offline: bool = False,
    ) -> dict[str, Any]:
        """A message on the phone. ``group``: written by ``phone`` in that group (an
        id, "@g.us" added when missing) whose subject is ``subject``; ``chat``: any
        other chat id (such as "status@broadcast"); ``offline``: the phone has it but
        this linked device missed it (a network gap), so only a history read finds it."""
        if type not in MESSAGE_KINDS:  # stored as given, a lowercase kind never renders
            raise PermanentEngineError(
                f"unknown message type {type!r}: one of {', '.join(MESSAGE_KINDS)}")
        if not offline:
            self._require_ready()
        self._counter += 1
        who = customer(phone, name)
        if lid:
            who = Peer(wa_id=lid, phone=None, name=name)
        where = who
        if group:
            where = Peer(wa_id=group if "@" in group else f"{group}@g.us", name=subject)
        elif chat:
            where = Peer(wa_id=chat, name=subject)
        message_id = id or f"SIMIN{self._counter:08d}"
        event = InboundMessage(
            id=message_id, chat=where, sender=self.me if from_me else who, from_me=from_me,
            type=type,
            timestamp=timestamp if timestamp is not None else time.time(), body=body,
            media=_media(media), location=Location(**location) if location else None,
            vcard=vcard,
            poll=Poll(question=poll["question"], options=list(poll["options"]),
                      selectable_count=int(poll.get("selectableCount", 1))) if poll else None,
            quoted_id=quoted_id, reaction_to=reaction_to,
        )
        self._keep(event)
        if not offline:
            await self.host.emit(event)
        return {"id": message_id}

    # -- history ---------------------------------------------------------------------------

    def _keep(self, event: InboundMessage) -> None:
        self._phone.parent.mkdir(parents=True, exist_ok=True)
        with self._phone.open("ab") as out:
            out.write(encode_event(event) + b"\n")

    def _kept(self) -> list[InboundMessage]:
        return _read_phone(self._phone)

    async def history_chats(self, since: float) -> list[Peer]:
        """One-to-one chats with a message since then (groups and feeds are left out,
        as the web engine leaves them out)."""
        self._require_ready()
        chats: dict[str, Peer] = {}
        for ev in self._kept():
            wa_id = ev.chat.wa_id
            if ev.timestamp >= since and not is_group_id(wa_id) and not is_broadcast_id(wa_id):
                chats.setdefault(wa_id, ev.chat)
        return list(chats.values())

    async def history(self, chat: Peer, since: float) -> list[InboundMessage]:
        self._require_ready()
        found = [ev for ev in self._kept() if ev.chat.wa_id == chat.wa_id and ev.timestamp >= since]
        return sorted(found, key=lambda ev: ev.timestamp)

    async def _sim_read(self, phone: str) -> dict[str, Any]:
        who = customer(phone)
        read = [r["id"] for r in self._sent.values() if r["to"] == who.wa_id and r["ack"] < 3]
        for wa_id in read:
            await self._ack(wa_id, who, 3)
        return {"read": read}

    async def _sim_react(self, phone: str, message_id: str, emoji: str) -> dict[str, Any]:
        who = customer(phone)
        await self.host.emit(Reaction(message_id=message_id, chat=who, sender=who, emoji=emoji,
                                      timestamp=time.time()))
        return {}

    async def _sim_edit(self, phone: str, message_id: str, body: str) -> dict[str, Any]:
        await self.host.emit(Edited(id=message_id, chat=customer(phone), body=body,
                                    timestamp=time.time()))
        return {}

    async def _sim_revoke(self, phone: str, message_id: str) -> dict[str, Any]:
        who = customer(phone)
        await self.host.emit(Revoked(id=message_id, chat=who, by=who))
        return {}

    async def _sim_logout(self) -> dict[str, Any]:
        await self.logout()
        return {}

    async def _sim_identity(self, lid: str, phone: str) -> dict[str, Any]:
        await self.host.emit(IdentityMapped(lid=lid, phone=phone))
        return {}


def _read_phone(path: Path) -> list[InboundMessage]:
    try:
        lines = path.read_bytes().splitlines()
    except OSError:
        return []
    return [msgspec.json.decode(line, type=InboundMessage) for line in lines if line.strip()]


def _media(spec: dict[str, Any] | None) -> Media | None:
    if not spec:
        return None
    data = base64.b64decode(spec["data"])
    return Media(mime_type=spec["mimeType"], filename=spec.get("filename"), data=data,
                 size=len(data))
