"""The engine contract: what every WhatsApp engine does and reports.

An engine connects one WhatsApp number (a "session") and translates between WhatsApp
and wacc. It is built by a factory registered through the ``wacc_engines`` plugin hook,
given an :class:`EngineHost` to report to, and then driven through :class:`Engine`.
Everything an engine reports is an :class:`EngineEvent` (msgspec structs, so they
cross process boundaries and JavaScript adapters as JSON unchanged). Engines import
only this module and ``wacc.lib``; docs/engines.md describes the contract in prose.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

import msgspec

# -- identities -----------------------------------------------------------------------


class Peer(msgspec.Struct, frozen=True, kw_only=True):
    """Who a message is from or to. ``wa_id`` is WhatsApp's id ("15551234567@c.us",
    or a hidden "…@lid" id); ``phone`` is E.164 when the engine knows it."""

    wa_id: str
    phone: str | None = None
    name: str | None = None

    @property
    def is_group(self) -> bool:
        """A group chat ("…@g.us"): its ``name`` is the group's subject."""
        return is_group_id(self.wa_id)


def is_group_id(wa_id: str) -> bool:
    return wa_id.endswith("@g.us")


def is_broadcast_id(wa_id: str) -> bool:
    """Status updates ("status@broadcast"), broadcast lists ("…@broadcast") and channels
    ("…@newsletter"): one-to-many feeds, never a conversation."""
    return wa_id.endswith(("@broadcast", "@newsletter"))


# -- lifecycle and connection events ---------------------------------------------------


class DisconnectReason(StrEnum):
    LOGGED_OUT = "LOGGED_OUT"  # the phone removed this device: needs a new QR, no retry
    CONFLICT = "CONFLICT"  # WhatsApp Web opened elsewhere
    NEEDS_UPDATE = "NEEDS_UPDATE"  # WhatsApp requires a newer client
    TOS_BLOCK = "TOS_BLOCK"  # the number is banned or restricted
    QR_TIMEOUT = "QR_TIMEOUT"  # nobody scanned within the allowed QR codes
    CRASHED = "CRASHED"  # browser/renderer crashed or the page stopped answering
    NETWORK = "NETWORK"  # lost connection; the engine or manager retries
    STOPPED = "STOPPED"  # stopped on request


PERMANENT_DISCONNECTS = frozenset(
    {DisconnectReason.LOGGED_OUT, DisconnectReason.NEEDS_UPDATE, DisconnectReason.TOS_BLOCK}
)


class EngineEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    """Base of everything an engine reports."""


class QrCode(EngineEvent, tag="qr", kw_only=True, frozen=True):
    code: str  # the raw string to render as a QR code
    attempt: int  # 1, 2, … — engines stop after a configurable number


class PairingCode(EngineEvent, tag="pairing_code", kw_only=True, frozen=True):
    code: str  # 8 characters to type on the phone
    phone: str


class Authenticated(EngineEvent, tag="authenticated", kw_only=True, frozen=True):
    pass


class Ready(EngineEvent, tag="ready", kw_only=True, frozen=True):
    me: Peer  # the connected number


class StateChanged(EngineEvent, tag="state", kw_only=True, frozen=True):
    state: str  # engine-specific detail (OPENING, PAIRING, SYNCING, …) for display


class Disconnected(EngineEvent, tag="disconnected", kw_only=True, frozen=True):
    reason: DisconnectReason
    detail: str = ""
    # The engine gave up on a cause restarting cannot cure (its own restart budget is
    # used up): whoever restarts engines must not start this session again by itself.
    final: bool = False


# -- message events ---------------------------------------------------------------------

MessageKind = Literal[
    "TEXT", "IMAGE", "VIDEO", "AUDIO", "DOCUMENT", "STICKER", "LOCATION", "CONTACT", "POLL",
    "REACTION", "UNSUPPORTED",
]


class Media(msgspec.Struct, frozen=True, kw_only=True):
    """Media attached to a message. Inbound, the engine either gives ``data`` or a
    ``fetch`` handle (engine-specific) that ``Engine.download_media`` resolves."""

    mime_type: str
    filename: str | None = None
    size: int | None = None
    sha256: str | None = None
    fetch: str | None = None
    data: bytes | None = None


class Location(msgspec.Struct, frozen=True, kw_only=True):
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


class Poll(msgspec.Struct, frozen=True, kw_only=True):
    question: str
    options: list[str]
    selectable_count: int = 1


class InboundMessage(EngineEvent, tag="message", kw_only=True, frozen=True):
    """A message in a chat: from the customer, or sent from the phone itself
    (``from_me``), which wacc records as outbound.

    In a group, ``chat`` is the group (``…@g.us``, ``name`` = its subject) and
    ``sender`` the participant who wrote (with their name when known); replies go to
    ``chat``."""

    id: str  # WhatsApp's message id: with the session, the idempotency key
    chat: Peer  # the customer's chat
    sender: Peer
    from_me: bool = False
    type: MessageKind = "TEXT"
    timestamp: float  # seconds since the epoch (WhatsApp's clock)
    body: str | None = None
    media: Media | None = None
    location: Location | None = None
    vcard: str | None = None
    poll: Poll | None = None
    quoted_id: str | None = None
    reaction_to: str | None = None  # for type REACTION: the message reacted to
    raw: dict[str, Any] = {}
    # What wacc keeps beyond the common fields, in the message's metadata: e.g. the
    # Cloud API's order items, a Flows response, or the raw type and Meta's error of
    # an UNSUPPORTED message. JSON-ready values only.
    details: dict[str, Any] = {}


class Ack(EngineEvent, tag="ack", kw_only=True, frozen=True):
    """Delivery state of a sent message: -1 error, 0 pending, 1 server, 2 device,
    3 read, 4 played. Only ever moves forward in wacc."""

    id: str
    chat: Peer
    ack: int
    # With ack -1: why WhatsApp did not deliver (e.g. the Cloud API's error code and text).
    error: str | None = None


class Revoked(EngineEvent, tag="revoked", kw_only=True, frozen=True):
    id: str
    chat: Peer
    by: Peer | None = None


class Edited(EngineEvent, tag="edited", kw_only=True, frozen=True):
    id: str
    chat: Peer
    body: str
    timestamp: float


class Reaction(EngineEvent, tag="reaction", kw_only=True, frozen=True):
    message_id: str  # the message reacted to
    chat: Peer
    sender: Peer
    emoji: str  # empty string: the reaction was removed
    timestamp: float


class IdentityMapped(EngineEvent, tag="identity", kw_only=True, frozen=True):
    """A hidden ``@lid`` id turned out to be this phone number (one person, one contact)."""

    lid: str
    phone: str


class BlockChanged(EngineEvent, tag="block", kw_only=True, frozen=True):
    peer: Peer
    blocked: bool


class IdentityChanged(EngineEvent, tag="identity_changed", kw_only=True, frozen=True):
    """The same person now uses another number or id (the Cloud API's system messages
    ``user_changed_number`` / ``user_changed_user_id``): their contact moves to ``new``,
    merged into a contact that already has it."""

    old: Peer
    new: Peer


class SessionAlert(EngineEvent, tag="alert", kw_only=True, frozen=True):
    """Something a person should look at that is not a disconnect: the provider reported
    an error for this number (Meta's ``value.errors``), or one event of a batch could
    not be read and was skipped. wacc records it as the session's last error and
    publishes ``session:alert``; the session stays connected."""

    code: str
    detail: str


ENGINE_EVENTS = (
    QrCode | PairingCode | Authenticated | Ready | StateChanged | Disconnected
    | InboundMessage | Ack | Revoked | Edited | Reaction | IdentityMapped | BlockChanged
    | IdentityChanged | SessionAlert
)


def decode_event(data: bytes | str) -> EngineEvent:
    """Parse an event sent as JSON (from a JavaScript adapter or another process).
    Raises msgspec.ValidationError with a clear message when it is malformed."""
    return msgspec.json.decode(data, type=ENGINE_EVENTS)  # type: ignore[arg-type]


def encode_event(event: EngineEvent) -> bytes:
    return msgspec.json.encode(event)


# -- actions ----------------------------------------------------------------------------


class OutboundMessage(msgspec.Struct, frozen=True, kw_only=True):
    """What wacc asks an engine to send. ``idempotency_key`` is stable across retries;
    engines that can (cloud) pass it on, the others rely on wacc's send ledger."""

    idempotency_key: str
    to: Peer
    type: MessageKind = "TEXT"
    body: str | None = None
    media: Media | None = None
    media_path: Path | None = None
    location: Location | None = None
    vcard: str | None = None
    poll: Poll | None = None
    quoted_id: str | None = None
    reaction_to: str | None = None
    template: dict[str, Any] | None = None  # cloud only: a message template
    interactive: dict[str, Any] | None = None  # cloud only: buttons and lists


class SendResult(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # WhatsApp's id of the sent message
    timestamp: float


class EngineError(Exception):
    """An action failed. ``permanent`` says whether retrying can help."""

    permanent: ClassVar[bool] = False

    def __init__(self, message: str, *, code: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        # Transient errors only: how long the other side asked us to wait, in seconds
        # (e.g. Meta's pair rate limit); None lets the caller pick its own backoff.
        self.retry_after = retry_after


class TransientEngineError(EngineError):
    permanent = False


class PermanentEngineError(EngineError):
    permanent = True


class NotConnectedError(TransientEngineError):
    """The session is not connected now; the message waits and is retried."""


class EngineHost(Protocol):
    """What the session manager gives an engine."""

    session_id: str
    settings: dict[str, Any]  # the session's engine settings (credentials decrypted)
    data_dir: Path  # a private directory for this session (profiles, caches)

    async def emit(self, event: EngineEvent) -> None:
        """Report an event; returns once wacc has stored it (so acks can follow)."""


class Engine(Protocol):
    """One running connection of one session."""

    name: ClassVar[str]
    # Sends per second this engine tolerates by default (the manager's rate limiter).
    default_rate: ClassVar[float]
    # Optional. True when a send repeated with the same idempotency key can never reach
    # the customer twice (the engine finds the first one), so a send a crash interrupted
    # is queued again; otherwise it fails for a person to check (wacc.messages.outbound).

    async def start(self) -> None:
        """Connect (showing QR or pairing code if needed); returns when started, not
        when ready: readiness arrives as a Ready event."""

    async def stop(self) -> None:
        """Disconnect, keeping the login so the next start needs no QR."""

    async def logout(self) -> None:
        """Log this device out of WhatsApp and forget the login."""

    async def request_pairing_code(self, phone: str) -> str:
        """Log in by phone number instead of QR; returns the code to type on the phone."""

    async def send(self, message: OutboundMessage) -> SendResult: ...

    async def edit(self, chat: Peer, message_id: str, body: str) -> None: ...

    async def revoke(self, chat: Peer, message_id: str) -> None: ...

    async def mark_read(self, chat: Peer, message_ids: list[str]) -> None: ...

    async def typing(self, chat: Peer, on: bool) -> None: ...

    async def profile_picture(self, peer: Peer) -> str | None: ...

    async def set_blocked(self, peer: Peer, blocked: bool) -> None: ...

    async def download_media(self, media: Media) -> bytes: ...


class HistoryEngine(Protocol):
    """Optional: engines that can read past messages (web, simulator). wacc imports
    history and back-fills what arrived while a session was down through these; an
    engine without them (cloud: Meta keeps no history for us) answers "unsupported"."""

    async def history_chats(self, since: float) -> list[Peer]:
        """The one-to-one chats with a message at or after ``since`` (epoch seconds)."""

    async def history(self, chat: Peer, since: float) -> list[InboundMessage]:
        """That chat's messages at or after ``since``, oldest first (both directions)."""


# -- commands ---------------------------------------------------------------------------
# The calls above as values, mirroring the events: what other processes ask of a running
# session (wacc.sessions.rpc carries ``method`` in the address and the rest as JSON
# arguments named as the Engine's parameters). Engines may offer calls of their own
# (``rpc_methods``); those are not part of the contract and stay untyped.


class EngineCommand(msgspec.Struct, frozen=True, kw_only=True, tag_field="method"):
    """A call to a running session's engine."""


class Send(EngineCommand, tag="send", kw_only=True, frozen=True):
    message: OutboundMessage


class Edit(EngineCommand, tag="edit", kw_only=True, frozen=True):
    chat: Peer
    message_id: str
    body: str


class Revoke(EngineCommand, tag="revoke", kw_only=True, frozen=True):
    chat: Peer
    message_id: str


class MarkRead(EngineCommand, tag="mark_read", kw_only=True, frozen=True):
    chat: Peer
    message_ids: list[str]


class Typing(EngineCommand, tag="typing", kw_only=True, frozen=True):
    chat: Peer
    on: bool


class ProfilePicture(EngineCommand, tag="profile_picture", kw_only=True, frozen=True):
    peer: Peer


class SetBlocked(EngineCommand, tag="set_blocked", kw_only=True, frozen=True):
    peer: Peer
    blocked: bool


class RequestPairingCode(EngineCommand, tag="request_pairing_code", kw_only=True, frozen=True):
    phone: str


class Logout(EngineCommand, tag="logout", kw_only=True, frozen=True):
    pass


class DownloadMedia(EngineCommand, tag="download_media", kw_only=True, frozen=True):
    media: Media


class HistoryChats(EngineCommand, tag="history_chats", kw_only=True, frozen=True):
    """Optional (HistoryEngine)."""

    since: float


class History(EngineCommand, tag="history", kw_only=True, frozen=True):
    """Optional (HistoryEngine)."""

    chat: Peer
    since: float


Command = (Send | Edit | Revoke | MarkRead | Typing | ProfilePicture | SetBlocked
           | RequestPairingCode | Logout | DownloadMedia | HistoryChats | History)
COMMANDS = frozenset(str(t.__struct_config__.tag) for t in Command.__args__)
# Calls an engine may lack (HistoryEngine): it answers "unsupported".
OPTIONAL_COMMANDS = frozenset({"history_chats", "history"})


def command_call(command: EngineCommand) -> tuple[str, dict[str, Any]]:
    """The method name and JSON arguments a command travels as."""
    args: dict[str, Any] = msgspec.to_builtins(command)
    return args.pop("method"), args


def decode_command(method: str, args: dict[str, Any]) -> Command | None:
    """The command a call names; None for a method outside the contract."""
    if method not in COMMANDS:
        return None
    return msgspec.convert({**args, "method": method}, Command)  # type: ignore[arg-type]


EngineFactory = Callable[[EngineHost], Engine]
Emit = Callable[[EngineEvent], Awaitable[None]]
