"""What keeps an organization's AI inside its limits: a rate limit, a daily spend cap,
and an answer cache for repeated questions.

- Rate limit: the process's Limiter (``wacc.security.limits``), keyed by organization,
  ``requestsPerMinute`` in a moving window. With Redis every process shares one count.
  Without Redis (embedded) each process counts alone, and the web process (agent
  assist, ``POST /ai/test``) and the worker (auto-responder, automations) are two: the
  organization may get up to twice its rate there. The spend cap, read from the
  database, is the limit on money either way.
- Spend cap: the sum of ``AiUsage.cost_micros`` since 00:00 UTC, compared before each
  call. Calls already running when the cap is reached still finish, so the day can
  end a few calls over it.
- Cache: Redis when configured (shared by every process, expiring by itself); else a
  small in-memory table per process. That is correct, not merely faster-or-slower: an
  entry is keyed by everything its answer depends on (organization, question,
  knowledge passages, providers and prompt) and expires after ``cacheTtlSeconds``, so
  a process that does not see another's entry asks the model once more, and no process
  ever serves an answer the key does not describe. Changing a provider or the prompt
  changes the key, so old entries are never hit again.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any

import msgspec
from piccolo.query.functions.aggregate import Sum

from wacc.ai.providers.pricing import Cost
from wacc.ai.schemas import AiSettings, UsageOut, UsageRow
from wacc.ai.tables import AiUsage
from wacc.db.engine import is_sqlite
from wacc.lib.clock import utcnow
from wacc.lib.errors import ValidationError
from wacc.runtime import Runtime
from wacc.security.limits import Limiter, per_minute

MICROS = Decimal(1_000_000)


def micros(usd: Decimal | float) -> int:
    """Whole millionths of a dollar, rounded up so sums never undercount spending."""
    return math.ceil(Decimal(str(usd)) * MICROS)


async def allow_request(limiter: Limiter, organization_id: str, settings: AiSettings) -> bool:
    verdict = await limiter.hit(per_minute(settings.requests_per_minute), "ai", organization_id)
    return verdict.allowed


async def spent_today(organization_id: str) -> int:
    """Micro-dollars spent since 00:00 UTC."""
    midnight = datetime.combine(utcnow().date(), dtime(0), tzinfo=UTC)
    row = await AiUsage.select(Sum(AiUsage.cost_micros).as_alias("spent")).where(
        (AiUsage.organization == organization_id) & (AiUsage.created_at >= midnight)).first()
    return int((row or {}).get("spent") or 0)


async def over_spend_cap(organization_id: str, settings: AiSettings) -> bool:
    if settings.daily_spend_cap_usd is None:
        return False
    return await spent_today(organization_id) >= micros(settings.daily_spend_cap_usd)


def cost_micros(cost: Cost) -> int:
    return micros(cost.usd)


# -- the answer cache -------------------------------------------------------------------


def normalize(question: str) -> str:
    """Case and spacing do not make another question."""
    return " ".join(question.casefold().split())


def cache_key(organization_id: str, question: str, knowledge_ids: list[str], config: Any) -> str:
    """*config*: everything else the answer depends on (providers, prompt, mode), as
    JSON-encodable data; it is hashed, so no key or prompt text is stored in the key."""
    digest = hashlib.sha256(msgspec.json.encode(
        [normalize(question), sorted(knowledge_ids), config])).hexdigest()
    return f"wacc:ai:answer:{organization_id}:{digest}"


class CachedAnswer(msgspec.Struct, kw_only=True):
    text: str
    provider: str
    provider_type: str
    model: str
    citations: list[str]  # chunk ids


class AnswerCache:
    """Redis at *url*, or this process's memory (bounded, least recently used out)."""

    def __init__(self, url: str = "", max_entries: int = 2048) -> None:
        self.url, self.max_entries = url, max_entries
        self._redis: Any = None
        self._memory: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def _client(self) -> Any:
        if self._redis is None:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
        return self._redis

    async def get(self, key: str) -> CachedAnswer | None:
        raw: bytes | None
        if self.url:
            try:
                raw = await self._client().get(key)
            except Exception:  # a cache outage costs a model call, never the answer
                return None
        else:
            expires, raw = self._memory.get(key, (0.0, None))
            if raw is not None and expires < time.monotonic():
                self._memory.pop(key, None)
                raw = None
            elif raw is not None:
                self._memory.move_to_end(key)
        return msgspec.json.decode(raw, type=CachedAnswer) if raw else None

    async def put(self, key: str, answer: CachedAnswer, ttl: int) -> None:
        if ttl <= 0:
            return
        raw = msgspec.json.encode(answer)
        if self.url:
            try:
                await self._client().set(key, raw, ex=ttl)
            except Exception:
                return
            return
        self._memory[key] = (time.monotonic() + ttl, raw)
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_entries:
            self._memory.popitem(last=False)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


# Where wacc.ai.plugin registers the process's answer cache (wacc_runtime_parts).
ANSWER_CACHE = "ai.answer_cache"


def answer_cache_of(rt: Runtime) -> AnswerCache:
    return rt.part(ANSWER_CACHE, AnswerCache)


# -- usage for GET /ai/usage ---------------------------------------------------------------

USAGE_DAYS_DEFAULT, USAGE_DAYS_MAX = 30, 366
REFUSALS = ("rate_limited", "spend_cap")


async def usage_summary(organization_id: str, since: date | None, until: date | None) -> UsageOut:
    until = until or utcnow().date()
    since = since or until - timedelta(days=USAGE_DAYS_DEFAULT - 1)
    if since > until or (until - since).days >= USAGE_DAYS_MAX:
        raise ValidationError.field(
            "from", f"must be on or before `to`, at most {USAGE_DAYS_MAX} days before it")
    start = datetime.combine(since, dtime(0), tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), dtime(0), tzinfo=UTC)
    day = ("substr(created_at, 1, 10)" if is_sqlite()
           else "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
    refused = ", ".join(f"'{r}'" for r in REFUSALS)
    rows = await AiUsage.raw(
        f"SELECT {day} AS day, provider_name, model, "
        f"SUM(CASE WHEN outcome IN ({refused}) THEN 0 ELSE 1 END) AS calls, "
        "SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens, "
        "SUM(cost_micros) AS cost, SUM(CASE WHEN failed_over THEN 1 ELSE 0 END) AS failovers, "
        f"SUM(CASE WHEN outcome IN ('ok', {refused}) THEN 0 ELSE 1 END) AS failures, "
        "SUM(CASE WHEN cached THEN 1 ELSE 0 END) AS cache_hits, "
        f"SUM(CASE WHEN outcome IN ({refused}) THEN 1 ELSE 0 END) AS refused, "
        "AVG(CASE WHEN cached THEN NULL ELSE latency_ms END) AS latency "
        "FROM ai_usage WHERE organization = {} AND created_at >= {} AND created_at < {} "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", organization_id, start, end)
    items = [UsageRow(
        day=date.fromisoformat(str(r["day"])), provider=r["provider_name"], model=r["model"],
        calls=int(r["calls"]), prompt_tokens=int(r["prompt_tokens"] or 0),
        completion_tokens=int(r["completion_tokens"] or 0),
        cost_usd=float(Decimal(int(r["cost"] or 0)) / MICROS), failovers=int(r["failovers"]),
        failures=int(r["failures"]), cache_hits=int(r["cache_hits"]), refused=int(r["refused"]),
        avg_latency_ms=round(float(r["latency"] or 0))) for r in rows]
    return UsageOut(items=items, total_cost_usd=sum(i.cost_usd for i in items),
                    total_calls=sum(i.calls for i in items))
