"""Rate limits and login throttles, in memory (embedded) or in Redis (scaled).

Built on the `limits` library's moving windows, so several web processes sharing
Redis share one count.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from wacc.config import Settings


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until a slot frees; 0 when allowed


class Limiter:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._strategy = MovingWindowRateLimiter(storage)

    async def hit(self, item: RateLimitItem, *key: str) -> Verdict:
        allowed = await self._strategy.hit(item, *key)
        return await self._verdict(item, allowed, *key)

    async def check(self, item: RateLimitItem, *key: str) -> Verdict:
        allowed = await self._strategy.test(item, *key)
        return await self._verdict(item, allowed, *key)

    async def clear(self, item: RateLimitItem, *key: str) -> None:
        await self._strategy.clear(item, *key)

    async def _verdict(self, item: RateLimitItem, allowed: bool, *key: str) -> Verdict:
        stats = await self._strategy.get_window_stats(item, *key)
        retry = 0 if allowed else max(1, math.ceil(stats.reset_time - time.time()))
        return Verdict(allowed, item.amount, max(0, stats.remaining), retry)


def make_limiter(settings: Settings) -> Limiter:
    if settings.redis.url:
        storage: Storage = RedisStorage(
            "async+" + settings.redis.url, implementation="redispy", key_prefix="wacc:limits"
        )
    else:
        storage = MemoryStorage()
    return Limiter(storage)


def per_minute(amount: int) -> RateLimitItem:
    return RateLimitItemPerMinute(amount)


def per(amount: int, minutes: int) -> RateLimitItem:
    return parse(f"{amount}/{minutes} minutes")
