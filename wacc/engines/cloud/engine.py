"""The ``cloud`` engine: one business phone number on the official WhatsApp Cloud API.

There is no device session to keep alive: "connected" means Meta accepted our access
token for this phone number. Sends are plain HTTP calls; inbound messages and delivery
statuses arrive by webhook, which the web role hands to :meth:`CloudEngine.receive_webhook`.

Settings (``host.settings``, credentials already decrypted):

- ``phone_number_id``, ``access_token``: required to start;
- ``app_secret``: checks webhook signatures; ``verify_token``: the subscription handshake;
- ``api_version`` (default: graph.DEFAULT_API_VERSION), ``base_url`` (default Meta's Graph host);
- ``connect_timeout`` / ``read_timeout`` in seconds (default 5 / 20);
- ``last_inbound``: ``{customer: timestamp}`` of the latest customer messages wacc
  has stored, so the 24-hour window is known right after a restart.

The host may also offer ``async last_inbound(peer) -> float | None`` (the session
manager's does: it asks the messages feature for the customer's latest stored message),
which is asked before every free-form send, so the window is whatever the database says,
whichever process received the customer's message. When neither knows, the send is
attempted and Meta's answer (131047) decides.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import mimetypes
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import httpx
import msgspec

from wacc.engines.cloud import webhook
from wacc.engines.cloud.errors import META_ERRORS
from wacc.engines.cloud.graph import (
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    WINDOW_CLOSED,
    GraphAuthError,
    GraphClient,
)
from wacc.engines.cloud.outbound import (
    MEDIA_KINDS,
    check_media,
    is_template,
    message_body,
    window_open,
)
from wacc.engines.cloud.peers import only_digits, peer_from_digits, recipient_digits
from wacc.engines.cloud.receiving import WebhookReceiver
from wacc.engines.contract import (
    Disconnected,
    DisconnectReason,
    EngineEvent,
    EngineFactory,
    EngineHost,
    Media,
    NotConnectedError,
    OutboundMessage,
    Peer,
    PermanentEngineError,
    Ready,
    SendResult,
    TransientEngineError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

UNSUPPORTED = "not supported by the Cloud API"
# How long after Meta named a message id a status for it may still beat the outbox to
# the stored message (the send's answer crossing the session RPC and the database).
SEND_RACE_SECONDS = 30.0


class CloudEngine:
    """:class:`wacc.engines.contract.Engine` over Meta's Graph API."""

    name: ClassVar[str] = "cloud"
    # Meta's default throughput for a business number is 80 messages per second.
    default_rate: ClassVar[float] = 80.0
    # Idempotency keys remembered in memory. The outbox guards across processes; this
    # only has to cover retries of recent sends, so old keys are dropped first.
    remembered_sends: ClassVar[int] = 10_000
    # Calls other processes may make through the session RPC (webhooks arrive at the
    # web role; the engine lives in a wa process).
    rpc_methods: ClassVar[tuple[str, ...]] = ("webhook", "subscribe", "fetch_media")
    # Media is fetched by a job after the message is stored (fetch_media), so the
    # webhook answers Meta at once (Meta backs off from slow endpoints).
    defer_media: ClassVar[bool] = True

    def __init__(
        self,
        host: EngineHost,
        *,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.host = host
        settings = host.settings
        self.phone_number_id = str(settings.get("phone_number_id") or "")
        self._access_token = str(settings.get("access_token") or "")
        self._app_secret = str(settings.get("app_secret") or "")
        self._verify_token = str(settings.get("verify_token") or "")
        self._base_url = str(settings.get("base_url") or DEFAULT_BASE_URL)
        self._api_version = str(settings.get("api_version") or DEFAULT_API_VERSION)
        self._connect_timeout = float(settings.get("connect_timeout") or DEFAULT_CONNECT_TIMEOUT)
        self._read_timeout = float(settings.get("read_timeout") or DEFAULT_READ_TIMEOUT)
        self._clock = clock
        self._transport = transport
        self._graph: GraphClient | None = None
        self._connected = False
        self._sent: OrderedDict[str, SendResult] = OrderedDict()
        self._in_flight: dict[str, asyncio.Task[SendResult]] = {}
        self._uploads: dict[str, str] = {}  # idempotency key -> media id, so retries skip the upload
        # customer digits -> when they last wrote, and their last message id (typing needs one)
        self._last_inbound: dict[str, float] = _seed_last_inbound(settings.get("last_inbound") or {})
        self._last_message_id: dict[str, str] = {}
        self._receiver = WebhookReceiver(host, self.phone_number_id, self._app_secret,
                                         self.note_inbound, self._may_race_its_send)
        # customer digits -> when Meta said the window was closed (131047): until they
        # write again, free-form sends to them are refused here.
        self._closed_at: dict[str, float] = {}
        # customer digits -> until when sends to them wait (pair rate limit, 131056), so a
        # later message never overtakes the one Meta asked us to hold back.
        self._held_until: dict[str, float] = {}

    def __repr__(self) -> str:  # never the token
        return f"CloudEngine(phone_number_id={self.phone_number_id!r}, connected={self._connected})"

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Check the credentials against Meta and report Ready, or Disconnected with
        the reason when they do not work."""
        missing = [k for k in ("phone_number_id", "access_token") if not self.host.settings.get(k)]
        if missing:
            await self._disconnect(DisconnectReason.LOGGED_OUT,
                                   f"cloud settings missing: {', '.join(missing)}")
            return
        await self._close_client()
        self._graph = GraphClient(
            self._access_token, base_url=self._base_url, api_version=self._api_version,
            connect_timeout=self._connect_timeout, read_timeout=self._read_timeout,
            transport=self._transport,
        )
        try:
            info = await self._graph.get(self.phone_number_id,
                                         params={"fields": "display_phone_number,verified_name"})
        except GraphAuthError as exc:
            await self._disconnect(DisconnectReason.LOGGED_OUT, f"Meta refused the access token: {exc}")
            return
        except PermanentEngineError as exc:  # e.g. a phone number id Meta does not know
            await self._disconnect(DisconnectReason.LOGGED_OUT,
                                   f"Meta refused phone number id {self.phone_number_id}: {exc}")
            return
        except TransientEngineError as exc:
            await self._disconnect(DisconnectReason.NETWORK, str(exc))
            return
        digits = only_digits(str(info.get("display_phone_number") or ""))
        name = info.get("verified_name") if isinstance(info.get("verified_name"), str) else None
        me = peer_from_digits(digits, name) if digits else Peer(wa_id=self.phone_number_id, name=name)
        self._connected = True
        log.info("cloud session %s ready", self.host.session_id)
        await self.host.emit(Ready(me=me))

    async def stop(self) -> None:
        self._connected = False
        self._receiver.close()
        await self._close_client()
        await self.host.emit(Disconnected(reason=DisconnectReason.STOPPED))

    async def logout(self) -> None:
        # No device is linked: the credentials live in wacc's settings, and forgetting
        # them is wacc's business, not Meta's.
        await self.stop()

    async def request_pairing_code(self, phone: str) -> str:
        raise PermanentEngineError(f"pairing codes are {UNSUPPORTED}: it uses an access token",
                                   code="UNSUPPORTED")

    # -- sending --------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send once per idempotency key: a retry of a send that already succeeded in
        this process returns the first result, and a retry racing the first attempt
        waits for it, instead of messaging the customer twice."""
        key = message.idempotency_key
        done = self._sent.get(key)
        if done is not None:
            return done
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._send_once(message))
            self._in_flight[key] = task
            task.add_done_callback(lambda _: self._in_flight.pop(key, None))
        return await task

    async def _send_once(self, message: OutboundMessage) -> SendResult:
        graph = self._require_connected()
        to = recipient_digits(message.to)
        message_body(message)  # refuse what Meta would refuse, before the window or an upload
        self._check_held(to)
        if not is_template(message):
            await self._check_window(message.to, to)
        media_id = None
        if message.template is None and message.interactive is None and message.type in MEDIA_KINDS:
            media_id = await self._upload(graph, message)
        try:
            answer = await self._guard(graph.post(f"{self.phone_number_id}/messages",
                                                  message_body(message, media_id)))
        except PermanentEngineError as exc:
            if exc.code == "WINDOW_CLOSED":
                # Meta knows better than our record: the window is closed.
                self._closed_at[to] = self._clock()
            raise
        except TransientEngineError as exc:
            rule = META_ERRORS.get(int(exc.code)) if exc.code.isdigit() else None
            if rule is not None and rule.per_recipient:
                self._held_until[to] = self._clock() + (rule.wait or 0.0)
            raise
        try:
            wamid = str(answer["messages"][0]["id"])
        except (KeyError, IndexError, TypeError) as exc:
            # Meta took the message (2xx); retrying could deliver it twice, so this is
            # reported as a failure to look at rather than retried.
            raise PermanentEngineError("Meta accepted the message but returned no message id",
                                       code="BAD_RESPONSE") from exc
        result = SendResult(id=wamid, timestamp=self._clock())
        self._sent[message.idempotency_key] = result
        self._uploads.pop(message.idempotency_key, None)
        while len(self._sent) > self.remembered_sends:
            self._sent.popitem(last=False)
        return result

    def _may_race_its_send(self, message_id: str) -> bool:
        """Whether a status for *message_id* may have arrived before the outbox stored
        that id: a send is still waiting for Meta, or Meta gave this id moments ago."""
        if self._in_flight:
            return True
        now = self._clock()
        for result in reversed(self._sent.values()):
            if now - result.timestamp > SEND_RACE_SECONDS:
                break
            if result.id == message_id:
                return True
        return False

    def _check_held(self, to: str) -> None:
        """Refuse, for now, a send to a customer Meta asked us to slow down for."""
        wait = self._held_until.get(to, 0.0) - self._clock()
        if wait > 0:
            raise TransientEngineError(
                f"holding messages to this customer for {wait:.0f} s more: Meta's pair rate "
                "limit (131056) asked to wait, and later messages must not overtake earlier ones",
                code="131056", retry_after=wait)
        self._held_until.pop(to, None)

    async def _check_window(self, peer: Peer, to: str) -> None:
        """Refuse a free-form send only when the window is known to be closed: the last
        stored message of this customer is 24 hours old, or Meta said so (131047) and
        they have not written since. Not known (no stored message, the host cannot
        tell): the send is attempted and Meta decides."""
        last = self._last_inbound.get(to)
        ask = getattr(self.host, "last_inbound", None)
        if ask is not None:
            try:
                stored = await ask(peer)
            except Exception:  # the database is away: Meta decides
                log.warning("cloud session %s: cannot read the reply window", self.host.session_id)
                stored = None
            if stored is not None:
                last = max(float(stored), last if last is not None else float("-inf"))
        closed = self._closed_at.get(to)
        # Meta's timestamps are whole seconds: a message from the same second as Meta's
        # refusal may be the one that reopened the window.
        if closed is not None and (last is None or last < closed - 1):
            raise PermanentEngineError(WINDOW_CLOSED, code="WINDOW_CLOSED")
        if last is not None and not window_open(last, self._clock()):
            raise PermanentEngineError(WINDOW_CLOSED, code="WINDOW_CLOSED")

    async def _upload(self, graph: GraphClient, message: OutboundMessage) -> str:
        key = message.idempotency_key
        if key in self._uploads:
            return self._uploads[key]
        media = message.media
        if message.media_path is not None:
            try:
                data = await asyncio.to_thread(message.media_path.read_bytes)
            except OSError as exc:
                raise PermanentEngineError(f"cannot read the media file: {exc.strerror or exc}",
                                           code="BAD_MESSAGE") from exc
            filename = (media.filename if media else None) or message.media_path.name
        else:
            assert media is not None and media.data is not None  # message_body checked it
            data, filename = media.data, media.filename or "file"
        mime = (media.mime_type if media else None) or mimetypes.guess_type(filename)[0] \
            or "application/octet-stream"
        problem = check_media(message.type, mime, data)
        if problem:  # Meta would refuse it (131053 or 100): say why, upload nothing
            raise PermanentEngineError(problem, code="MEDIA_NOT_ACCEPTED")
        answer = await self._guard(graph.upload(
            f"{self.phone_number_id}/media",
            data={"messaging_product": "whatsapp", "type": mime},
            file=(filename, data, mime),
        ))
        if not answer.get("id"):
            raise TransientEngineError("Meta accepted the upload but returned no media id",
                                       code="BAD_RESPONSE")
        if len(self._uploads) >= self.remembered_sends:
            self._uploads.pop(next(iter(self._uploads)))
        self._uploads[key] = str(answer["id"])
        return self._uploads[key]

    # -- other actions ----------------------------------------------------------------------

    async def edit(self, chat: Peer, message_id: str, body: str) -> None:
        raise PermanentEngineError(f"editing messages is {UNSUPPORTED}", code="UNSUPPORTED")

    async def revoke(self, chat: Peer, message_id: str) -> None:
        raise PermanentEngineError(f"deleting messages is {UNSUPPORTED}", code="UNSUPPORTED")

    async def mark_read(self, chat: Peer, message_ids: list[str]) -> None:
        graph = self._require_connected()
        for message_id in message_ids:
            await self._guard(graph.post(f"{self.phone_number_id}/messages", {
                "messaging_product": "whatsapp", "status": "read", "message_id": message_id,
            }))

    async def typing(self, chat: Peer, on: bool) -> None:
        """Meta's typing indicator hangs off a received message and also marks it read;
        it disappears when we reply or after 25 seconds, and cannot be switched off.
        So "on" shows it for the customer's latest message, "off" does nothing, and
        with no message from this customer seen since start there is nothing to do."""
        if not on:
            return
        message_id = self._last_message_id.get(recipient_digits(chat))
        if message_id is None:
            return
        graph = self._require_connected()
        await self._guard(graph.post(f"{self.phone_number_id}/messages", {
            "messaging_product": "whatsapp", "status": "read", "message_id": message_id,
            "typing_indicator": {"type": "text"},
        }))

    async def profile_picture(self, peer: Peer) -> str | None:
        return None  # the Cloud API does not expose customers' profile pictures

    async def set_blocked(self, peer: Peer, blocked: bool) -> None:
        """Meta's Block Users API. Meta only lets a business block someone who wrote in
        the last 24 hours; its refusal comes back as a PermanentEngineError."""
        graph = self._require_connected()
        body = {"messaging_product": "whatsapp", "block_users": [{"user": recipient_digits(peer)}]}
        path = f"{self.phone_number_id}/block_users"
        answer = await self._guard(graph.post(path, body) if blocked else graph.delete(path, body))
        result = answer.get("block_users")
        failed = result.get("failed_users") if isinstance(result, dict) else None
        if failed:
            errors = failed[0].get("errors") if isinstance(failed[0], dict) else None
            detail = errors[0].get("message") if errors and isinstance(errors[0], dict) else "no reason given"
            raise PermanentEngineError(f"Meta would not {'block' if blocked else 'unblock'} "
                                       f"{peer.phone or peer.wa_id}: {detail}", code="BLOCK_FAILED")

    async def download_media(self, media: Media) -> bytes:
        """``media.fetch`` is Meta's media id: ask Meta for a short-lived URL (it lasts
        about five minutes) and fetch it at once, with the same bearer token."""
        if media.data is not None:
            return media.data
        if not media.fetch:
            raise PermanentEngineError("this media has no Meta media id to download", code="BAD_MEDIA")
        graph = self._require_connected()
        info = await self._guard(graph.get(media.fetch))
        url = info.get("url")
        if not isinstance(url, str) or not url:
            raise TransientEngineError("Meta returned no URL for the media", code="BAD_RESPONSE")
        data = await self._guard(graph.download(url))
        size = info.get("file_size")
        if size is not None and str(size).isdigit() and int(size) != len(data):
            raise TransientEngineError(f"media download was cut short ({len(data)} of {size} bytes)",
                                       code="TRUNCATED")
        return data

    # -- webhooks -----------------------------------------------------------------------------

    def verify_subscription(self, params: Mapping[str, str]) -> str:
        """Answer Meta's subscription handshake (``GET`` on the webhook URL)."""
        return webhook.verify_subscription(params, self._verify_token)

    async def receive_webhook(self, body: bytes, signature: str | None) -> list[EngineEvent]:
        """Check, parse and report one webhook POST for this phone number; returns the
        events reported. Raises webhook.WebhookError when it is not a genuine one; one
        bad message is skipped and alerted, never failing the batch (receiving.py)."""
        return await self._receiver.receive(body, signature)

    async def fetch_media(self, media: dict[str, Any] | Media) -> bytes:
        """RPC form of download_media, for the media job (the worker has no engine)."""
        return await self.download_media(media if isinstance(media, Media)
                                         else msgspec.convert(media, Media))

    async def webhook(self, body: str, signature: str | None) -> int:
        """RPC form of receive_webhook: *body* is base64 (the exact bytes Meta signed)."""
        raw = base64.b64decode(body)
        try:
            webhook.check_signature(raw, signature, self._app_secret)
        except webhook.WebhookError as exc:
            raise PermanentEngineError(str(exc), code="BAD_SIGNATURE") from None
        try:
            events = await self.receive_webhook(raw, signature)
        except webhook.WebhookError as exc:
            raise PermanentEngineError(str(exc), code="BAD_WEBHOOK") from None
        return len(events)

    async def subscribe(self, params: dict[str, str]) -> str:
        """RPC form of verify_subscription."""
        try:
            return self.verify_subscription(params)
        except webhook.WebhookError as exc:
            raise PermanentEngineError(str(exc), code="FORBIDDEN") from None

    def note_inbound(self, customer: Peer, timestamp: float, message_id: str | None = None) -> None:
        """Record that *customer* wrote at *timestamp*: it opens the 24-hour window."""
        digits = recipient_digits(customer)
        if timestamp >= self._last_inbound.get(digits, float("-inf")):
            self._last_inbound[digits] = timestamp
            self._closed_at.pop(digits, None)  # they wrote again: the window is open
            if message_id:
                self._last_message_id[digits] = message_id

    # -- internals ---------------------------------------------------------------------------

    def _require_connected(self) -> GraphClient:
        if not self._connected or self._graph is None:
            raise NotConnectedError("the cloud session is not connected", code="NOT_CONNECTED")
        return self._graph

    async def _guard(self, call: Awaitable[T]) -> T:
        """Run a Graph call; a refused token disconnects the session and leaves the
        message waiting (NotConnectedError) instead of failing it for good, since it
        will go through once the token is fixed."""
        try:
            return await call
        except GraphAuthError as exc:
            if self._connected:
                await self._disconnect(DisconnectReason.LOGGED_OUT, f"Meta refused the access token: {exc}")
            raise NotConnectedError(f"Meta refused the access token: {exc}", code=exc.code) from exc

    async def _disconnect(self, reason: DisconnectReason, detail: str) -> None:
        self._connected = False
        await self._close_client()
        log.warning("cloud session %s disconnected: %s", self.host.session_id, reason)
        await self.host.emit(Disconnected(reason=reason, detail=detail))

    async def _close_client(self) -> None:
        if self._graph is not None:
            graph, self._graph = self._graph, None
            await graph.aclose()


# Checked by mypy: CloudEngine satisfies the contract and is itself an engine factory.
_factory: EngineFactory = CloudEngine


def _seed_last_inbound(seed: Mapping[str, Any]) -> dict[str, float]:
    """``{customer: when}`` from settings. Customers may be named "+1555…", "1555…" or
    "1555…@c.us"; times may be epoch seconds, datetimes or ISO-8601 strings."""
    out: dict[str, float] = {}
    for customer, when in seed.items():
        digits = only_digits(str(customer).partition("@")[0])
        if isinstance(when, datetime):
            ts = when.timestamp()
        elif isinstance(when, int | float):
            ts = float(when)
        elif isinstance(when, str):
            try:
                ts = float(when)
            except ValueError:
                try:
                    ts = datetime.fromisoformat(when).timestamp()
                except ValueError:
                    continue
        else:
            continue
        if digits:
            out[digits] = max(ts, out.get(digits, ts))
    return out
