"""CSV contact import: time and peak memory of the worker, beside a raw-insert baseline.

    python bench/import_contacts.py                                  # SQLite, 100,000 rows
    python bench/import_contacts.py --database-url postgresql://postgres@127.0.0.1:5432/test

A file of --rows contacts (phone, name, e-mail, two tags, a SELECT and a NUMBER custom
field; 1% bad phone numbers) is uploaded through the import service, then imported by
the real job code in a fresh worker process, twice: once creating every contact, once
with onDuplicate=update (every row an update). The worker's peak RSS is that process's
maximum resident size. The baseline inserts the same rows with the bare driver in
batches of 500, one transaction each. Prints figures; decides nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _common import drop_pg, fresh_pg


def make_csv(rows: int) -> bytes:
    lines = ["phone,name,email,tags,custom.plan,custom.seats"]
    for i in range(rows):
        phone = f"+4930{i:08d}" if i % 100 != 99 else f"12{i}x"
        lines.append(f"{phone},Customer {i},customer{i}@example.com,"
                     f"{'vip;lead' if i % 10 == 0 else 'lead'},{'pro' if i % 3 else 'basic'},{i % 50}")
    return ("\n".join(lines) + "\n").encode()


class _NoQueue:
    def enqueue(self, *args: object) -> None:
        """The bench runs the job itself, in a worker process of its own."""


async def _open(settings):  # type: ignore[no-untyped-def]
    from wacc.db.engine import bind, make_engine, open_engine
    from wacc.schema import ALL_TABLES

    engine = make_engine(settings)
    bind(engine, ALL_TABLES)
    await open_engine(engine, settings)
    return engine


async def _prepare(settings, data: bytes) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """Organization, tags and custom fields; two uploads (create, then update)."""
    from wacc.contacts import transfer
    from wacc.contacts.tables import CustomField
    from wacc.db.engine import close_engine
    from wacc.db.migrate import apply_migrations
    from wacc.orgs import services as orgs
    from wacc.storage import make_media_store
    from wacc.tags.tables import Tag

    engine = await _open(settings)
    await apply_migrations(engine, settings.data_path)
    org = await orgs.create("Bench")
    for name in ("vip", "lead"):
        await Tag.insert(Tag(id=str(uuid.uuid4()), organization=org.id, name=name))
    await CustomField.insert(
        CustomField(id=str(uuid.uuid4()), organization=org.id, name="Plan", key="plan",
                    type="SELECT", options=["basic", "pro"]),
        CustomField(id=str(uuid.uuid4()), organization=org.id, name="Seats", key="seats",
                    type="NUMBER"))
    media = make_media_store(settings)
    ids = []
    for mode in ("skip", "update"):
        out = await transfer.start_import(_NoQueue(), media, org.id, None, "bench.csv", data,
                                          None, mode, None)
        ids.append(out.id)
    await close_engine(engine)
    return org.id, ids[0], ids[1]


def _memory(field: str) -> float:
    """MB from /proc/self/status: VmRSS now, VmHWM the peak of this process image (unlike
    ru_maxrss, which a child inherits from the parent it was forked from)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _work(import_id: str) -> None:
    """The worker process: what the import job runs, timed, then its peak RSS."""
    from wacc.bus import make_bus
    from wacc.config import load_settings
    from wacc.contacts import importer
    from wacc.contacts.tables import ContactImport
    from wacc.db.engine import close_engine
    from wacc.storage import make_media_store

    settings = load_settings(os.environ)
    engine = await _open(settings)
    bus = make_bus(settings)
    idle = _memory("VmRSS")
    start = time.perf_counter()
    status = await importer.run_import(make_media_store(settings), bus, import_id)
    elapsed = time.perf_counter() - start
    row = await ContactImport.select().where(ContactImport.id == import_id).first()
    await bus.close()
    await close_engine(engine)
    print(json.dumps({
        "status": status, "seconds": elapsed, "idle_mb": idle,
        "peak_mb": _memory("VmHWM"),
        **{k: row[k] for k in ("processed", "created", "updated", "skipped", "failed")},
    }))


def _baseline_sqlite(path: str, rows: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE raw (id text primary key, wa text unique, phone text, "
                 "name text, email text, custom text)")
    data = [(str(uuid.uuid4()), f"4930{i:08d}@c.us", f"+4930{i:08d}", f"Customer {i}",
             f"customer{i}@example.com", '{"plan": "pro", "seats": 3}') for i in range(rows)]
    start = time.perf_counter()
    for i in range(0, rows, 500):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO raw VALUES (?, ?, ?, ?, ?, ?)", data[i:i + 500])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


async def _baseline_pg(url: str, rows: int) -> float:
    import asyncpg

    conn = await asyncpg.connect(url)
    await conn.execute("CREATE TABLE raw (id text primary key, wa text unique, phone text, "
                       "name text, email text, custom jsonb)")
    data = [(str(uuid.uuid4()), f"4930{i:08d}@c.us", f"+4930{i:08d}", f"Customer {i}",
             f"customer{i}@example.com", '{"plan": "pro", "seats": 3}') for i in range(rows)]
    start = time.perf_counter()
    for i in range(0, rows, 500):
        async with conn.transaction():
            await conn.executemany("INSERT INTO raw VALUES ($1, $2, $3, $4, $5, $6)",
                                   data[i:i + 500])
    elapsed = time.perf_counter() - start
    await conn.close()
    return elapsed


def _run_worker(env: dict[str, str], import_id: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--work", import_id], env=env, check=True,
                         capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--work", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.work:
        await _work(args.work)
        return

    from wacc.config import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="wacc-bench-"))
    admin_url = args.database_url
    url = await fresh_pg(admin_url) if admin_url else f"sqlite:///{tmp / 'wacc.db'}"
    base_url = await fresh_pg(admin_url) if admin_url else str(tmp / "raw.db")
    env = {**os.environ, "WACC_DATA_DIR": str(tmp), "WACC_DATABASE_URL": url,
           "WACC_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
           "WACC_MEDIA_MAX_BYTES": str(64 * 1024 * 1024)}
    env.pop("WACC_REDIS_URL", None)
    data = make_csv(args.rows)
    try:
        _, create_id, update_id = await _prepare(load_settings(env), data)
        baseline = (await _baseline_pg(base_url, args.rows) if admin_url
                    else _baseline_sqlite(base_url, args.rows))
        created = _run_worker(env, create_id)
        updated = _run_worker(env, update_id)
    finally:
        if admin_url:
            await drop_pg(admin_url, url)
            await drop_pg(admin_url, base_url)
    kind = "PostgreSQL" if admin_url else "SQLite"
    print(f"contact import benchmark — {kind}, {args.rows} rows, {len(data) / 1e6:.1f} MB file")
    print(f"  raw insert baseline  : {baseline:6.1f} s ({args.rows / baseline:8.0f} rows/s)")
    for name, r in (("import, all new", created), ("import, all update", updated)):
        print(f"  {name:<20} : {r['seconds']:6.1f} s ({args.rows / r['seconds']:8.0f} rows/s, "
              f"{r['seconds'] / baseline:.1f}x baseline); created {r['created']}, updated "
              f"{r['updated']}, failed {r['failed']}; worker RSS {r['idle_mb']:.0f} MB before, "
              f"{r['peak_mb']:.0f} MB peak")


if __name__ == "__main__":
    asyncio.run(main())
