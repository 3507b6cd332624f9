"""The event bus: stored events fan out to realtime clients, automations and webhooks.

Publishers call ``publish(topic, payload)``; consumers ``subscribe(topics)`` and get an
async iterator of ``(topic, payload)``. Topics are strings such as ``org:<id>``. With
Redis (scaled mode) events travel by Redis pub/sub; embedded, by a table that each
process polls (a few milliseconds to a poll interval of latency, no extra service).
Each process reads the backend once and fans out to its local subscribers.

Delivery is at-most-once and live-only: a subscriber sees events published while it
is subscribed. Anything that must not be missed reads the database, which is the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from wacc.config import Settings
from wacc.lib.clock import utcnow
from wacc.logs import get_logger

log = get_logger(__name__)

Event = tuple[str, dict[str, Any]]
_QUEUE_SIZE = 1000


class Bus:
    """Local fan-out on top of a backend (subclasses provide _send and _receive)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)
        self._reader: asyncio.Task[None] | None = None

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        await self.publish_many([(topic, payload)])

    async def publish_many(self, events: list[Event]) -> None:
        if not events:
            return
        try:
            await self._send_many(events)
        except Exception:
            # The database already holds the events' effect; a missed live push is
            # recovered by the client re-reading, so publishing never fails a write.
            log.exception("bus publish failed", topics=sorted({t for t, _ in events}))

    async def _send_many(self, events: list[Event]) -> None:
        for topic, payload in events:
            await self._send(topic, payload)

    @contextlib.asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[AsyncIterator[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(_QUEUE_SIZE)
        for topic in topics:
            self._subscribers[topic].add(queue)
        await self._ensure_reader()
        try:
            yield _drain(queue)
        finally:
            for topic in topics:
                self._subscribers[topic].discard(queue)
                if not self._subscribers[topic]:
                    del self._subscribers[topic]

    def _dispatch(self, topic: str, payload: dict[str, Any]) -> None:
        for queue in list(self._subscribers.get(topic, ())):
            try:
                queue.put_nowait((topic, payload))
            except asyncio.QueueFull:
                log.warning("slow bus subscriber; event dropped", topic=topic)

    async def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            await self._prepare()
            self._reader = asyncio.create_task(self._read_forever(), name="wacc-bus-reader")

    async def _read_forever(self) -> None:
        failing = False
        while True:
            try:
                await self._receive()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:  # once per outage, not once a second
                    log.warning("bus reader failed; retrying every second",
                                error=f"{type(exc).__name__}: {exc}")
                    failing = True
                await asyncio.sleep(1)
            else:
                failing = False

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def _prepare(self) -> None:
        """Called before the reader starts (e.g. to note where the log ends now)."""

    async def _send(self, topic: str, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _receive(self) -> None:
        raise NotImplementedError


async def _drain(queue: asyncio.Queue[Event]) -> AsyncIterator[Event]:
    while True:
        yield await queue.get()


class DatabaseBus(Bus):
    """Embedded: an append-only table, polled by one reader per process."""

    def __init__(self, poll_seconds: float = 0.05, keep: timedelta = timedelta(hours=1)) -> None:
        super().__init__()
        self.poll_seconds = poll_seconds
        self.keep = keep
        self._last_id = 0

    async def _send(self, topic: str, payload: dict[str, Any]) -> None:
        await self._send_many([(topic, payload)])

    async def _send_many(self, events: list[Event]) -> None:
        from wacc.bus.tables import BusEvent

        await BusEvent.insert(*[BusEvent(topic=t, payload=p) for t, p in events])

    async def _prepare(self) -> None:
        from wacc.bus.tables import BusEvent

        row = await BusEvent.select(BusEvent.id).order_by(BusEvent.id, ascending=False).first()
        self._last_id = row["id"] if row else 0

    async def _receive(self) -> None:
        from wacc.bus.tables import BusEvent

        idle = 0
        while True:
            rows = await BusEvent.select(BusEvent.id, BusEvent.topic, BusEvent.payload).where(
                BusEvent.id > self._last_id
            ).order_by(BusEvent.id).limit(500)
            for row in rows:
                self._last_id = row["id"]
                payload = row["payload"]
                self._dispatch(row["topic"], json.loads(payload) if isinstance(payload, str) else payload)
            if rows:
                idle = 0
                continue
            idle += 1
            if idle % 20 == 0:
                await self._notice_reset()
            await asyncio.sleep(self.poll_seconds)

    async def _notice_reset(self) -> None:
        """SQLite reuses ids once the table is emptied; when the newest id falls below
        the last one read, start over, or every later event would look old."""
        from wacc.bus.tables import BusEvent

        row = await BusEvent.select(BusEvent.id).order_by(BusEvent.id, ascending=False).first()
        newest = row["id"] if row else 0
        if newest < self._last_id:
            self._last_id = 0

    async def prune(self) -> int:
        """Delete old events, always keeping the newest (so ids keep growing)."""
        from wacc.bus.tables import BusEvent

        newest = await BusEvent.select(BusEvent.id).order_by(BusEvent.id, ascending=False).first()
        if newest is None:
            return 0
        gone = await BusEvent.delete().where(
            (BusEvent.created_at < utcnow() - self.keep) & (BusEvent.id < newest["id"])
        ).returning(BusEvent.id)
        return len(gone)


class RedisBus(Bus):
    """Scaled: Redis pub/sub, one connection per process for reading.

    While Redis is away, events still reach the subscribers in the publishing process
    (its WebSockets stay open and live); other processes' miss them until it answers,
    and their clients catch up by reading the API again, as after any missed push."""

    PREFIX = "wacc:bus:"

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url)
        self._pubsub = self._redis.pubsub()
        self._subscribed = False
        self.away = False

    async def _send_many(self, events: list[Event]) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for topic, payload in events:
                    pipe.publish(self.PREFIX + topic, json.dumps(payload, default=str))
                await pipe.execute()
        except Exception as exc:
            if not self.away:
                self.away = True
                log.warning("Redis away: live events reach this process only until it answers",
                            error=f"{type(exc).__name__}: {exc}")
            for topic, payload in events:
                self._dispatch(topic, json.loads(json.dumps(payload, default=str)))
            return
        if self.away:
            self.away = False
            log.info("Redis answers again: live events reach every process")

    async def _receive(self) -> None:
        # Subscribed here, not before the reader starts: with Redis away a subscriber
        # still gets this process's events, and the reader subscribes once it answers.
        if not self._subscribed:
            await self._pubsub.psubscribe(self.PREFIX + "*")
            self._subscribed = True
        async for message in self._pubsub.listen():
            if message.get("type") != "pmessage":
                continue
            topic = message["channel"].decode()[len(self.PREFIX):]
            self._dispatch(topic, json.loads(message["data"]))

    async def close(self) -> None:
        await super().close()
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
            await self._redis.aclose()


def make_bus(settings: Settings) -> Bus:
    return RedisBus(settings.redis.url) if settings.redis.url else DatabaseBus()


def org_topic(organization_id: str) -> str:
    return f"org:{organization_id}"
