"""Rate limits and login throttles, in memory (embedded) or in Redis (scaled).

Built on the `limits` library's moving windows, so several web processes sharing
Redis share one count. While Redis is away, every limit (API, login throttles,
WebSocket messages, AI) counts in each process instead, so nothing answers 500 for it:
signing in and the API keep working and stay limited (issue 14 item 2).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from wacc.config import Settings
from wacc.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until a slot frees; 0 when allowed


class Limiter:
    RETRY_AWAY = 10.0

    def __init__(self, storage: Storage, *, shared: bool = False) -> None:
        self.storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        # Shared (Redis) storage can be away: limits then count in this process until it
        # answers again (``fallback=False`` asks the shared storage only).
        self.local: Limiter | None = Limiter(MemoryStorage()) if shared else None
        self.away = False
        self._retry_at = 0.0

    async def hit(self, item: RateLimitItem, *key: str, fallback: bool = True) -> Verdict:
        if fallback and self.local is not None:
            return await self._or_local("hit", item, key)
        allowed = await self._strategy.hit(item, *key)
        return await self._verdict(item, allowed, *key)

    async def check(self, item: RateLimitItem, *key: str, fallback: bool = True) -> Verdict:
        if fallback and self.local is not None:
            return await self._or_local("check", item, key)
        allowed = await self._strategy.test(item, *key)
        return await self._verdict(item, allowed, *key)

    async def clear(self, item: RateLimitItem, *key: str, fallback: bool = True) -> None:
        if fallback and self.local is not None:
            await self._or_local("clear", item, key)
            return
        await self._strategy.clear(item, *key)

    async def _or_local(self, op: str, item: RateLimitItem, key: tuple[str, ...]) -> Any:
        assert self.local is not None
        # While it is away, the shared storage is asked again only every RETRY_AWAY
        # seconds: each refused connection costs its client's retries.
        if self.away and time.monotonic() < self._retry_at:
            return await getattr(self.local, op)(item, *key)
        try:
            result = await getattr(self, op)(item, *key, fallback=False)
        except Exception as exc:
            self._retry_at = time.monotonic() + self.RETRY_AWAY
            if not self.away:  # once per outage
                self.away = True
                log.warning("rate limit storage unavailable; limits kept in this process "
                            "until it answers", error=f"{type(exc).__name__}: {exc}")
            return await getattr(self.local, op)(item, *key)
        if self.away:
            self.away = False
            log.info("rate limit storage reachable again")
        return result

    async def _verdict(self, item: RateLimitItem, allowed: bool, *key: str) -> Verdict:
        stats = await self._strategy.get_window_stats(item, *key)
        retry = 0 if allowed else max(1, math.ceil(stats.reset_time - time.time()))
        return Verdict(allowed, item.amount, max(0, stats.remaining), retry)


def make_limiter(settings: Settings) -> Limiter:
    if settings.redis.url:
        storage: Storage = RedisStorage(
            "async+" + settings.redis.url, implementation="redispy", key_prefix="wacc:limits"
        )
        return Limiter(storage, shared=True)
    return Limiter(MemoryStorage())


def per_minute(amount: int) -> RateLimitItem:
    return RateLimitItemPerMinute(amount)


def per(amount: int, minutes: int) -> RateLimitItem:
    return parse(f"{amount}/{minutes} minutes")
