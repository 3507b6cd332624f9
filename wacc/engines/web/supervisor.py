"""Keep one session's engine running: start a fresh one after a crash, with backoff.

The engine reports a crash as ``Disconnected(CRASHED)`` (or ``NETWORK``) and shuts
itself down; the supervisor sees that event on its way to the host, makes sure the old
engine is down, prunes Chromium's caches while nothing runs on the profile, waits an
exponentially growing, jittered delay and starts a new engine on the same profile.
Permanent endings (logged out, banned, outdated) and anything that needs a person
(conflict, QR timeout, a requested stop) end the supervision instead.

Works with any engine of the contract; the cache pruning applies when the session's
data directory has a Chromium profile.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wacc.engines.contract import (
    Disconnected,
    DisconnectReason,
    Engine,
    EngineError,
    EngineEvent,
    EngineFactory,
    EngineHost,
    Ready,
)
from wacc.engines.web.browser import prune_caches
from wacc.engines.web.health import RestartBudget

log = logging.getLogger(__name__)

RESTARTABLE = frozenset({DisconnectReason.CRASHED, DisconnectReason.NETWORK})
_jitter = random.SystemRandom()


@dataclass(frozen=True)
class Backoff:
    """Delay before restart n (1, 2, ...): ``base * factor**(n-1)``, at most ``cap``,
    times a random factor in [1 - jitter, 1 + jitter] so sessions that crashed together
    (a Chromium upgrade, the box swapping) do not restart together."""

    base: float = 2.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 0.3

    def delay(self, attempt: int) -> float:
        raw = min(self.cap, self.base * self.factor ** max(0, attempt - 1))
        return raw * _jitter.uniform(1 - self.jitter, 1 + self.jitter)


class _WatchedHost:
    """The real host, with the supervisor listening to what passes through."""

    def __init__(self, host: EngineHost, supervisor: Supervisor) -> None:
        self._host = host
        self._supervisor = supervisor
        self.session_id = host.session_id
        self.settings = host.settings
        self.data_dir = host.data_dir

    async def emit(self, event: EngineEvent) -> None:
        try:
            await self._host.emit(event)
        finally:
            # Even if the host failed to store it, the engine did end.
            self._supervisor.observe(event)


class Supervisor:
    """Runs ``factory(host)`` engines one after another until one ends for good."""

    def __init__(
        self,
        factory: EngineFactory,
        host: EngineHost,
        *,
        backoff: Backoff | None = None,
        restart_on: frozenset[DisconnectReason] = RESTARTABLE,
        healthy_after: float = 300.0,
        max_restarts: int | None = None,
        restart_limit: tuple[int, float] | None = (10, 3600.0),
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``healthy_after``: seconds of being ready after which the backoff starts over;
        ``max_restarts``: give up after this many restarts in a row (None: never);
        ``restart_limit``: (n, seconds): give up when a restart would be the n+1st in
        that window, even if the engine got ready in between: a session that crashes
        an hour after every start is a loop too (None: no limit)."""
        self.factory = factory
        self.host = host
        self.backoff = backoff or Backoff()
        self.restart_on = restart_on
        self.healthy_after = healthy_after
        self.max_restarts = max_restarts
        self.budget = RestartBudget(*restart_limit, clock=clock) if restart_limit else None
        self._sleep = sleep
        self._watched = _WatchedHost(host, self)
        self._endings: asyncio.Queue[Disconnected] = asyncio.Queue()
        self._stopping = asyncio.Event()
        self._ready_at: float | None = None
        self.engine: Engine | None = None
        self.restarts = 0
        self.delays: list[float] = []  # the backoff delays actually waited, for operators

    def observe(self, event: EngineEvent) -> None:
        if isinstance(event, Disconnected):
            self._endings.put_nowait(event)
        elif isinstance(event, Ready):
            self._ready_at = time.monotonic()

    async def run(self) -> Disconnected:
        """Supervise until an ending that is not restarted; returns that ending.
        Raises the engine's PermanentEngineError when it cannot start at all."""
        attempt = 0
        while True:
            ending = await self._run_once()
            if self._stopping.is_set() or ending.reason not in self.restart_on:
                return ending
            if self._ready_at is not None and time.monotonic() - self._ready_at >= self.healthy_after:
                attempt = 0
            attempt += 1
            if self.max_restarts is not None and attempt > self.max_restarts:
                log.error("session %s: giving up after %d restarts", self.host.session_id, attempt - 1)
                return ending
            if self.budget is not None and not self.budget.spend():
                gave_up = Disconnected(
                    reason=ending.reason,
                    detail=f"not restarted: {self.budget.describe()} already; last: {ending.detail}",
                    final=True,
                )
                log.error("session %s: %s", self.host.session_id, gave_up.detail)
                await self.host.emit(gave_up)
                return gave_up
            self._prune()
            delay = self.backoff.delay(attempt)
            self.delays.append(delay)
            log.warning(
                "session %s: engine ended (%s: %s); restart %d in %.1f s",
                self.host.session_id, ending.reason.value, ending.detail, attempt, delay,
            )
            if await self._wait_or_stop(delay):
                return Disconnected(reason=DisconnectReason.STOPPED, detail="stopped on request")
            self.restarts += 1

    async def stop(self) -> None:
        """Stop the current engine and end supervision (``run`` returns STOPPED)."""
        self._stopping.set()
        if self.engine is not None:
            await self.engine.stop()

    async def _run_once(self) -> Disconnected:
        self._endings = asyncio.Queue()
        self._ready_at = None
        engine = self.factory(self._watched)
        self.engine = engine
        try:
            await engine.start()
        except EngineError as exc:
            await engine.stop()
            if exc.permanent:
                # A broken installation (bad settings, tampered wa-js): no retry helps,
                # and the caller must hear about it.
                raise
            reason = DisconnectReason.NETWORK if exc.code == "NETWORK" else DisconnectReason.CRASHED
            ending = Disconnected(reason=reason, detail=f"start failed: {exc}")
            await self.host.emit(ending)
            return ending
        if self._stopping.is_set():
            await engine.stop()
        ending = await self._endings.get()
        # Make sure the old browser is gone before anything touches its profile.
        await engine.stop()
        return ending

    async def _wait_or_stop(self, delay: float) -> bool:
        sleeper = asyncio.ensure_future(self._sleep(delay))
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopper.cancel()
        return self._stopping.is_set()

    def _prune(self) -> None:
        profile = Path(self.host.data_dir).absolute() / "profile"
        if not profile.is_dir():
            return
        try:
            prune_caches(profile)
        except (OSError, RuntimeError) as exc:
            log.warning("session %s: could not prune caches: %s", self.host.session_id, exc)


async def run_with_restarts(factory: EngineFactory, host: EngineHost, **options: Any) -> Disconnected:
    """Supervise *factory*'s engines for *host*; see :class:`Supervisor` for options."""
    return await Supervisor(factory, host, **options).run()
