"""The transactional outbox: jobs that must follow a write are recorded with it.

A service that writes a row and needs a job because of it (a send, a domain event)
calls :func:`add` inside the same ``transaction()`` as the row: both commit or neither
does. A :class:`Dispatcher` in every process that writes such rows (web, wa, worker)
moves undispatched rows to the Huey queue in id order and marks them dispatched. While
the queue is away (Redis stopped) the rows wait and the dispatcher retries with
backoff, logging once per outage; nothing is lost, only delayed. A row enqueued whose
mark did not land (the process died in between) is enqueued again after its claim
expires, so jobs run at least once: every job behind the outbox is idempotent.

A job handed to the queue is not yet a job that ran. The worker reports each task it
finished (:func:`track`) and its row is marked done. Each row remembers the queue's
epoch (wacc.queue.jobs.Jobs.epoch) it was handed to; a Redis that restarts without its
data is a new epoch, and rows handed to the old one that never finished are handed
over again, so a Redis restart loses no send and no automation run.

After the transaction commits, :func:`add` nudges this process's dispatchers, so a job
normally reaches the queue within milliseconds; other processes' rows, and delayed
ones (a retry with backoff waits here, not in the queue), are found by polling every
POLL_SECONDS.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from huey.exceptions import RetryTask

from wacc.db.engine import after_commit
from wacc.db.outage import RETRY_AFTER_SECONDS, database_unavailable
from wacc.lib.clock import utcnow
from wacc.logs import get_logger
from wacc.outbox.tables import Outbox
from wacc.queue.jobs import Jobs

log = get_logger(__name__)
T = TypeVar("T")

BATCH = 100
POLL_SECONDS = 1.0
# How long a dispatcher holds rows it took; a crashed one's rows come back after it.
CLAIM = timedelta(seconds=60)
# Dispatched rows are kept this long (to look into), then pruned.
KEEP_DISPATCHED = timedelta(hours=1)
PRUNE_EVERY_SECONDS = 600.0
MAX_BACKOFF_SECONDS = 30.0
STOP_SECONDS = 10.0
# How often a dispatcher asks the queue for its epoch (a Redis round trip).
EPOCH_SECONDS = 2.0
TASK_PREFIX = "outbox:"

_dispatchers: set[Dispatcher] = set()
# Rows whose job the worker finished, marked done by this process's next dispatcher pass
# (the report comes from a worker thread that cannot await).
_finished: collections.deque[int] = collections.deque()


async def add(job: str, *args: Any, subject: str | None = None, delay: float = 0.0) -> None:
    """Record *job* (a registered job name) with *args* (JSON values), to be queued at
    once or after *delay* seconds. Inside a ``transaction()`` it commits with the
    caller's rows."""
    later = utcnow() + timedelta(seconds=delay) if delay > 0 else None
    await Outbox.insert(Outbox(job=job, args=list(args), subject=subject, available_at=later))
    if later is None and not after_commit(nudge):
        nudge()


async def waiting(job: str, subject: str) -> bool:
    """Whether a *job* about *subject* is recorded and not yet handed to the queue."""
    return await Outbox.exists().where(
        (Outbox.job == job) & (Outbox.subject == subject) & Outbox.dispatched_at.is_null())


async def backlog() -> tuple[int, float]:
    """How many recorded jobs wait for the queue, and the age of the oldest in seconds
    (0 when none wait): what /health/ready shows while the queue is away."""
    rows = await Outbox.select(Outbox.created_at).where(
        Outbox.dispatched_at.is_null()).order_by(Outbox.id).limit(1)
    if not rows:
        return 0, 0.0
    count = await Outbox.count().where(Outbox.dispatched_at.is_null())
    return count, max(0.0, (utcnow() - rows[0]["created_at"]).total_seconds())


def nudge() -> None:
    """Tell this process's dispatchers that rows were committed."""
    for dispatcher in list(_dispatchers):
        dispatcher.wake()


def retry_when_away(run: Callable[..., T]) -> Callable[..., T]:
    """Wrap a worker's ``run(coro)`` so a job that failed because the database is away is
    retried (Huey's RetryTask, every RETRY_AFTER_SECONDS, for as long as the outage
    lasts) instead of failing for good: an outage delays jobs, it never loses them."""

    def run_or_retry(coro: Any, *args: Any, **kwargs: Any) -> T:
        try:
            return run(coro, *args, **kwargs)
        except Exception as exc:
            if database_unavailable(exc):
                raise RetryTask(delay=RETRY_AFTER_SECONDS) from exc
            raise

    return run_or_retry


def track(jobs: Jobs) -> None:
    """In a process that runs jobs (the worker): report each finished outbox job so its
    row is marked done."""
    jobs.on_finished(_report)


def _report(task_id: str) -> None:
    if task_id.startswith(TASK_PREFIX):
        with contextlib.suppress(ValueError):
            _finished.append(int(task_id[len(TASK_PREFIX):]))
            nudge()


async def mark_finished() -> int:
    """Mark the rows the worker reported done; returns how many reports were taken."""
    ids = []
    while _finished:
        ids.append(_finished.popleft())
    if ids:
        try:
            await Outbox.update({Outbox.done_at: utcnow()}).where(Outbox.id.is_in(ids))
        except Exception:
            _finished.extendleft(ids)  # the database is away: kept for the next pass
            raise
    return len(ids)


async def prune(keep: timedelta = KEEP_DISPATCHED) -> int:
    """Delete done rows older than *keep*, and rows handed to the queue long ago whose
    report never came (a worker that died before it told)."""
    now = utcnow()
    gone = await Outbox.delete().where(
        (Outbox.done_at.is_not_null() & (Outbox.done_at < now - keep))
        | (Outbox.dispatched_at.is_not_null() & (Outbox.dispatched_at < now - keep * 24))
    ).returning(Outbox.id)
    return len(gone)


class QueueUnavailable(Exception):
    """The job queue refused a job (Redis away, the queue file locked)."""


class Dispatcher:
    """Moves outbox rows to *jobs* (a wacc.queue.jobs.Jobs) from this event loop."""

    def __init__(self, jobs: Jobs, *, poll_seconds: float = POLL_SECONDS, batch: int = BATCH) -> None:
        self.jobs = jobs
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.outage = False  # the last attempt failed; cleared by the next success
        self.dispatched = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unknown: set[str] = set()
        self._engine: Any = None
        self._epoch: str | None = None
        self._epoch_checked = 0.0

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start on the running loop, with the engine the tables are bound to now."""
        self._loop = asyncio.get_running_loop()
        self._engine = Outbox._meta.db
        self.outage = False
        self._wake, self._stop = asyncio.Event(), asyncio.Event()
        _dispatchers.add(self)
        self._task = asyncio.create_task(self._run(), name="wacc-outbox")

    async def stop(self) -> None:
        _dispatchers.discard(self)
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            # A queue client stuck on an unanswering host must not hold up the shutdown:
            # what it was moving stays claimed and is moved again after CLAIM.
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_SECONDS)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
            except Exception:  # noqa: S110 - it logged its own failures
                pass
            self._task = None

    async def __aenter__(self) -> Dispatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def wake(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:  # a job thread of the worker
            with contextlib.suppress(RuntimeError):  # its loop closed meanwhile
                loop.call_soon_threadsafe(self._wake.set)

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = 0.0
        next_prune = time.monotonic()
        while not self._stop.is_set():
            self._wake.clear()  # a nudge from here on runs the next pass at once
            more = False
            try:
                if Outbox._meta.db is self._engine:
                    await mark_finished()
                    with contextlib.suppress(Exception):
                        # The queue away: the pass below says so, with the row's error.
                        await self.check_epoch()
                moved = await self.dispatch_once()
                if self.outage and moved:  # a pass with nothing to move proves nothing
                    log.info("outbox dispatching again")
                    self.outage = False
                backoff = 0.0
                more = moved >= self.batch
            except Exception as exc:
                backoff = min(max(backoff * 2, 0.5), MAX_BACKOFF_SECONDS)
                if not self.outage:  # once per outage, not once per row or attempt
                    self.outage = True
                    log.warning("outbox not dispatched; jobs wait in the database and are "
                                "retried with backoff", error=f"{type(exc).__name__}: {exc}")
            if time.monotonic() >= next_prune and not self.outage:
                next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                with contextlib.suppress(Exception):
                    await prune()
            if more:
                continue
            # During an outage nudges do not hurry the retry; the backoff stands.
            waiter = self._stop if backoff else self._wake
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), backoff or self.poll_seconds)

    async def check_epoch(self, *, force: bool = False) -> int:
        """Ask the queue for its epoch (at most every EPOCH_SECONDS); when it is new,
        rows handed to an earlier queue that never finished are handed over again.
        Returns how many rows that was."""
        if not force and time.monotonic() - self._epoch_checked < EPOCH_SECONDS:
            return 0
        epoch = await asyncio.to_thread(self.jobs.epoch)
        self._epoch_checked = time.monotonic()
        if epoch == self._epoch:
            return 0
        self._epoch = epoch
        # Conditional on the epoch, so several dispatchers noticing the same restart hand
        # each lost row over once; rows handed to this epoch already are left alone.
        lost = await Outbox.update({Outbox.dispatched_at: None, Outbox.claimed_until: None}).where(
            Outbox.dispatched_at.is_not_null() & Outbox.done_at.is_null()
            & (Outbox.epoch.is_null() | (Outbox.epoch != epoch))
        ).returning(Outbox.id)
        if lost:
            log.warning("job queue came back empty; unfinished jobs handed over again",
                        jobs=len(lost))
        return len(lost)

    async def dispatch_once(self) -> int:
        """Hand up to one batch to the queue, oldest first; returns how many rows were
        taken. Raises QueueUnavailable when the queue refused one (it and the rows after
        it stay undispatched, in order)."""
        if Outbox._meta.db is not self._engine:
            # Another app in this process (a test) bound the tables to its own engine,
            # whose connections belong to its event loop: that app's dispatcher moves them.
            return 0
        now = utcnow()
        free = Outbox.dispatched_at.is_null() & (
            Outbox.available_at.is_null() | (Outbox.available_at <= now)) & (
            Outbox.claimed_until.is_null() | (Outbox.claimed_until < now))
        candidates = [r["id"] for r in await Outbox.select(Outbox.id).where(free).order_by(
            Outbox.id).limit(self.batch)]
        if not candidates:
            return 0
        # A conditional claim: of two dispatchers, each row goes to one.
        claimed = [r["id"] for r in await Outbox.update({Outbox.claimed_until: now + CLAIM}).where(
            Outbox.id.is_in(candidates) & free).returning(Outbox.id)]
        if not claimed:
            return 0
        rows = await Outbox.select(Outbox.id, Outbox.job, Outbox.args).where(
            Outbox.id.is_in(claimed)).order_by(Outbox.id).output(load_json=True)
        known = set(self.jobs.names())
        ready = []
        for row in rows:
            if row["job"] in known:
                ready.append(row)
            elif row["job"] not in self._unknown:  # left for a process that knows it
                self._unknown.add(row["job"])
                log.warning("outbox job not registered in this process", job=row["job"])
        done, failed, error = await asyncio.to_thread(self._enqueue, ready)
        if done:
            await Outbox.update({Outbox.dispatched_at: utcnow(), Outbox.claimed_until: None,
                                 Outbox.epoch: self._epoch}).where(Outbox.id.is_in(done))
            self.dispatched += len(done)
        if error is not None:
            await Outbox.update({Outbox.attempts: Outbox.attempts + 1,
                                 Outbox.last_error: f"{type(error).__name__}: {error}"[:500]}).where(
                Outbox.id == failed)
            rest = [r["id"] for r in ready if r["id"] not in done]
            if rest:
                await Outbox.update({Outbox.claimed_until: None}).where(Outbox.id.is_in(rest))
            raise QueueUnavailable(str(error)) from error
        return len(rows)

    def _enqueue(self, rows: list[dict[str, Any]]) -> tuple[list[int], int | None, Exception | None]:
        """In a thread: the queue's client blocks (and Redis may take a while to refuse)."""
        done: list[int] = []
        for row in rows:
            args = row["args"] if isinstance(row["args"], list) else []
            try:
                self.jobs.enqueue(row["job"], *args, task_id=f"{TASK_PREFIX}{row['id']}")
            except Exception as exc:
                return done, row["id"], exc
            done.append(row["id"])
        return done, None, None
