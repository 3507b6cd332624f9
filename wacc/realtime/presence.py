"""Who is online: one entry per open WebSocket, kept alive by a heartbeat.

A user is online while any of their connections (tabs, devices, web processes) is.
Embedded, the one web process holds the table in memory; scaled, a Redis sorted set
per organization holds ``user|connection`` members scored by their expiry, so every
web process sees the same answer and a crashed process's entries simply expire.
"""

from __future__ import annotations

import time
from typing import Any

from wacc.config import Settings
from wacc.logs import get_logger
from wacc.runtime import Runtime

log = get_logger(__name__)

# Where wacc.realtime.plugin registers the process's presence (wacc_runtime_parts).
PRESENCE = "realtime.presence"

# An entry outlives its last heartbeat by this long; connections beat every third of it.
TTL_SECONDS = 60.0


class Presence:
    async def join(self, org: str, user: str, conn: str) -> bool:
        """Record the connection; True when it brings the user online."""
        was_online = user in await self.online(org)
        await self._put(org, user, conn)
        return not was_online

    async def leave(self, org: str, user: str, conn: str) -> bool:
        """Forget the connection; True when the user has no other one left."""
        await self._drop(org, user, conn)
        return user not in await self.online(org)

    async def beat(self, org: str, user: str, conn: str) -> None:
        await self._put(org, user, conn)

    async def online(self, org: str) -> set[str]:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release connections (Redis); nothing to do in memory."""

    async def _put(self, org: str, user: str, conn: str) -> None:
        raise NotImplementedError

    async def _drop(self, org: str, user: str, conn: str) -> None:
        raise NotImplementedError


class MemoryPresence(Presence):
    def __init__(self) -> None:
        self._entries: dict[str, dict[tuple[str, str], float]] = {}

    async def online(self, org: str) -> set[str]:
        now = time.monotonic()
        entries = self._entries.get(org, {})
        for key in [k for k, expiry in entries.items() if expiry <= now]:
            del entries[key]
        return {user for user, _ in entries}

    async def _put(self, org: str, user: str, conn: str) -> None:
        self._entries.setdefault(org, {})[(user, conn)] = time.monotonic() + TTL_SECONDS

    async def _drop(self, org: str, user: str, conn: str) -> None:
        self._entries.get(org, {}).pop((user, conn), None)


class RedisPresence(Presence):
    """Shared through Redis; while it is away, this process's own connections (kept in
    memory beside it all along) answer, so nobody's socket fails for it."""

    PREFIX = "wacc:presence:"

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.from_url(url)
        self._local = MemoryPresence()
        self.away = False

    async def online(self, org: str) -> set[str]:
        key = self.PREFIX + org
        now = time.time()
        try:
            await self._redis.zremrangebyscore(key, "-inf", now)
            members = await self._redis.zrangebyscore(key, now, "+inf")
        except Exception as exc:
            self._went_away(exc)
            return await self._local.online(org)
        self._back()
        return {m.decode().split("|", 1)[0] for m in members}

    async def _put(self, org: str, user: str, conn: str) -> None:
        await self._local._put(org, user, conn)
        key = self.PREFIX + org
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zadd(key, {f"{user}|{conn}": time.time() + TTL_SECONDS})
                pipe.expire(key, int(TTL_SECONDS * 2))
                await pipe.execute()
        except Exception as exc:
            self._went_away(exc)

    async def _drop(self, org: str, user: str, conn: str) -> None:
        await self._local._drop(org, user, conn)
        try:
            await self._redis.zrem(self.PREFIX + org, f"{user}|{conn}")
        except Exception as exc:
            self._went_away(exc)

    def _went_away(self, exc: Exception) -> None:
        if not self.away:
            self.away = True
            log.warning("Redis away: presence counts this process's connections until it "
                        "answers", error=f"{type(exc).__name__}: {exc}")

    def _back(self) -> None:
        if self.away:
            self.away = False
            log.info("Redis answers again: presence is shared again")

    async def aclose(self) -> None:
        await self._redis.aclose()


def make_presence(settings: Settings) -> Presence:
    return RedisPresence(settings.redis.url) if settings.redis.url else MemoryPresence()


def presence_of(rt: Runtime) -> Presence:
    return rt.part(PRESENCE, Presence)
