"""Inbound ingest throughput and latency, beside a raw-insert baseline from the same run.

    python bench/ingest.py                                  # SQLite in a temp dir
    python bench/ingest.py --database-url postgresql://postgres@127.0.0.1:5432/test

Each event goes through the real pipeline (wacc.messages.ingest): idempotency check,
contact and conversation resolution, the message insert in one transaction, and the
bus publish. The baseline inserts the same number of rows with the bare driver
(asyncpg / sqlite3), one statement per row, at the same concurrency. Prints figures;
decides nothing. Record results in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from _common import drop_pg, fresh_pg, pct


async def _baseline(url: str, n: int, concurrency: int) -> float:
    """Rows per second inserting n rows with the bare driver."""
    rows = [(str(uuid.uuid4()), f"wamid.{i}", "hello " * 5, time.time()) for i in range(n)]
    if url.startswith("postgresql"):
        import asyncpg

        pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency)
        await pool.execute("CREATE TABLE bench_raw (id text primary key, wa text unique, "
                           "body text, ts double precision)")
        queue = iter(rows)

        async def worker() -> None:
            for row in queue:
                await pool.execute("INSERT INTO bench_raw VALUES ($1, $2, $3, $4)", *row)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        await pool.close()
        return n / elapsed
    path = url[len("sqlite:///"):]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE bench_raw (id text primary key, wa text unique, body text, ts real)")
    start = time.perf_counter()
    for row in rows:  # one committed statement per row, like one event per transaction
        conn.execute("INSERT INTO bench_raw VALUES (?, ?, ?, ?)", row)
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


async def _pipeline(settings, n: int, concurrency: int, contacts: int) -> tuple[float, list[float]]:
    from wacc.bus import make_bus
    from wacc.db.engine import bind, make_engine, open_engine
    from wacc.db.migrate import apply_migrations
    from wacc.engines.contract import InboundMessage, Peer
    from wacc.messages.ingest import Pipeline, SessionRef
    from wacc.orgs import services as orgs
    from wacc.schema import ALL_TABLES
    from wacc.sessions.tables import WhatsAppSession
    from wacc.storage import make_media_store

    engine = make_engine(settings)
    bind(engine, ALL_TABLES)
    await open_engine(engine, settings)
    await apply_migrations(engine, settings.data_path)
    org = await orgs.create("Bench")
    session_id = str(uuid.uuid4())
    await WhatsAppSession.insert(WhatsAppSession(id=session_id, organization=org.id, name="bench"))
    bus = make_bus(settings)
    pipeline = Pipeline(bus, make_media_store(settings))
    ref = SessionRef(id=session_id, organization_id=org.id)
    now = time.time()
    events = [
        InboundMessage(
            id=f"wamid.{i}", chat=Peer(wa_id=f"1555{i % contacts:07d}@c.us"),
            sender=Peer(wa_id=f"1555{i % contacts:07d}@c.us", name=f"Customer {i % contacts}"),
            timestamp=now + i / 1000, body=f"message {i}: do you have this in blue?",
        )
        for i in range(n)
    ]
    latencies: list[float] = []
    queue = iter(events)

    async def worker() -> None:
        for event in queue:
            started = time.perf_counter()
            await pipeline.ingest(ref, event)
            latencies.append(time.perf_counter() - started)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    await pipeline.close()
    await bus.close()
    from wacc.db.engine import close_engine

    await close_engine(engine)
    return n / elapsed, latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--contacts", type=int, default=500)
    args = parser.parse_args()

    from wacc.config import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="wacc-bench-"))
    admin_url = args.database_url
    url = await fresh_pg(admin_url) if admin_url else f"sqlite:///{tmp / 'wacc.db'}"
    base_url = await fresh_pg(admin_url) if admin_url else f"sqlite:///{tmp / 'raw.db'}"
    env = {"WACC_DATA_DIR": str(tmp), "WACC_DATABASE_URL": url,
           "WACC_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
           "WACC_DATABASE_POOL_MAX": str(args.concurrency + 4)}
    if args.redis_url:
        env["WACC_REDIS_URL"] = args.redis_url
    settings = load_settings(env)
    try:
        baseline = await _baseline(base_url, args.messages, args.concurrency)
        rate, latencies = await _pipeline(settings, args.messages, args.concurrency, args.contacts)
    finally:
        if admin_url:
            await drop_pg(admin_url, url)
            await drop_pg(admin_url, base_url)
    kind = "PostgreSQL" if admin_url else "SQLite"
    print(f"ingest benchmark — {kind}, {args.messages} events, concurrency {args.concurrency}, "
          f"{args.contacts} customers, bus: {'Redis' if args.redis_url else 'database'}")
    print(f"  raw insert baseline : {baseline:8.0f} rows/s")
    print(f"  wacc ingest         : {rate:8.0f} events/s ({rate / baseline:.0%} of baseline)")
    print(f"  latency per event   : p50 {pct(latencies, 50):.1f} ms, "
          f"p99 {pct(latencies, 99):.1f} ms, mean {statistics.mean(latencies) * 1000:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
