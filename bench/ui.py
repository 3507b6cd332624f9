"""Web UI pages (server-rendered, signed in by the session cookie) beside /health and the JSON API.

    python bench/ui.py                    # 2,000 conversations, 50,000 messages, SQLite
    python bench/ui.py --quick            # a smoke run: small inbox, about a second per page
    python bench/ui.py --pg postgresql://postgres@127.0.0.1:5432/postgres \\
        --redis-url redis://127.0.0.1:6379/11

Starts `wacc run` (embedded SQLite in a temporary directory, or a throwaway PostgreSQL
database with Redis), registers an owner and invites agents through the API, bulk-loads
an inbox with bench/api.py's seeding (log-normal conversation sizes, assignments, tags,
read marks), signs in through POST /ui/login and requests each page **closed loop**:
--clients connections, each sending its next request when the last one came back, for
--seconds per page after a short warm-up. Prints p50/p95/p99, requests per second and
the web role's CPU per request. /health and GET /api/v1/conversations (the same rows as
the inbox list, as JSON) are the baselines. Decides nothing; record results in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import os
import random
import shutil
import sqlite3
import tempfile
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import api
import asyncpg
import httpx
from _common import PASSWORD, Server, accounts, cpu_seconds, drop_pg, fresh_pg, pct, session

THREAD = 25  # messages in the conversations opened by the thread pages
BUDGET_MS = 50.0  # inbox list p95 at 200 requests/s (docs/performance.md)


class SqliteCopy:
    """What api.seed calls on its asyncpg connection, done on the SQLite file instead."""

    def __init__(self, path: str) -> None:
        import piccolo.engine.sqlite  # noqa: F401  (registers its adapters: same text as the server writes)

        self.db = sqlite3.connect(path, timeout=60)

    async def copy_records_to_table(self, table: str, *, columns: list[str], records: Any) -> None:
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        with self.db:
            self.db.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', records)

    async def execute(self, statement: str) -> None:
        # api.seed ends with VACUUM ANALYZE; the planner's statistics are what matter here.
        self.db.execute("ANALYZE")

    async def fetch(self, query: str) -> list[tuple[Any, ...]]:
        return self.db.execute(query).fetchall()

    async def close(self) -> None:
        self.db.close()


async def open_db(url: str) -> Any:
    return SqliteCopy(url.removeprefix("sqlite:///")) if url.startswith("sqlite:") else (
        await asyncpg.connect(url))


class Conn:
    """One keep-alive HTTP/1.1 connection, one request at a time (closed loop). Like
    _common.Http it spends far less CPU per request than httpx, and it sends a cookie."""

    def __init__(self, port: int, headers: str) -> None:
        self.port, self.headers = port, headers
        self.stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str) -> tuple[int, int]:
        """Status and body size."""
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{self.headers}\r\n".encode()
        for attempt in range(2):
            fresh = self.stream is None
            if self.stream is None:
                self.stream = await asyncio.open_connection("127.0.0.1", self.port)
            reader, writer = self.stream
            try:
                writer.write(request)
                head = (await reader.readuntil(b"\r\n\r\n")).lower()
                at = head.index(b"\r\ncontent-length:") + 17
                size = int(head[at:head.index(b"\r\n", at)])
                await reader.readexactly(size)
            except (asyncio.IncompleteReadError, ConnectionError):
                self.close()
                if fresh or attempt:
                    raise
                continue  # the server had closed the idle connection
            if b"\r\nconnection: close" in head:
                self.close()
            return int(head[9:12]), size
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.stream:
            self.stream[1].close()
        self.stream = None


@dataclass
class Result:
    latencies: list[float]
    errors: collections.Counter[str]
    elapsed: float
    size: float  # mean body bytes
    web_ms: float  # web role CPU per request

    def row(self, name: str, base: float) -> str:
        p50 = pct(self.latencies, 50)
        errs = ",".join(f"{k} x{v}" for k, v in self.errors.items()) or "0"
        return (f"  {name:<40} {len(self.latencies) / self.elapsed:>7.1f} {p50:>7.1f} "
                f"{pct(self.latencies, 95):>7.1f} {pct(self.latencies, 99):>7.1f} "
                f"{self.web_ms:>7.1f} {self.size / 1024:>7.1f} {p50 / base:>6.1f}x  {errs}")


HEADER = (f"  {'request':<40} {'req/s':>7} {'p50':>7} {'p95':>7} {'p99':>7} {'web CPU':>7} "
          f"{'KB':>7} {'p50/hl':>7}  errors")


async def closed_loop(port: int, headers: str, paths: list[str], clients: int, seconds: float,
                      web: list[int]) -> Result:
    """*clients* connections, each going through *paths* in turn (from its own offset)."""
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    sizes: list[int] = []
    deadline = time.perf_counter() + seconds

    async def client(k: int) -> None:
        conn, i = Conn(port, headers), k
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status, size = await conn.get(paths[i % len(paths)])
                if status != 200:
                    errors[str(status)] += 1
                sizes.append(size)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors[type(exc).__name__] += 1
                conn.close()
            latencies.append(time.perf_counter() - started)
            i += 1
        conn.close()

    cpu0, wall0 = cpu_seconds(web), time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    wall = time.perf_counter() - wall0
    done = max(1, len(latencies))
    return Result(latencies, errors, wall, sum(sizes) / max(1, len(sizes)),
                  (cpu_seconds(web) - cpu0) / done * 1000)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--agents", type=int, default=4, choices=range(1, 6),
                        help="agents invited besides the owner (1-5)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per request")
    parser.add_argument("--quick", action="store_true",
                        help="200 conversations, 3,000 messages, 1 s per request: a smoke run")
    parser.add_argument("--pg", metavar="URL", default="",
                        help="a PostgreSQL server to make a throwaway database on (default: SQLite)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11",
                        help="Redis for --pg (the embedded SQLite mode needs none)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory / database")
    args = parser.parse_args()
    if args.quick:
        args.conversations, args.messages, args.seconds = 200, 3000, 1.0
    return args


async def prepare(args: argparse.Namespace, client: httpx.AsyncClient, url: str
                  ) -> tuple[str, str, list[str], dict[str, int]]:
    """Accounts, sessions and the seeded inbox; returns the owner's API token and
    session cookie, conversations of about THREAD messages, and the seeded counts."""
    acc = await accounts(client, args.agents)
    sessions = [await session(client, acc.owner_token, name, False) for name in ("Sales", "Support")]
    # api.seed's sizes come from its FULL table times a scale, and it opens its own
    # asyncpg connection: give it these sizes, and on SQLite the file instead.
    api.FULL.update(conversations=args.conversations, messages=args.messages,
                    contacts=2 * args.conversations)
    if url.startswith("sqlite:"):
        api.asyncpg = types.SimpleNamespace(connect=open_db)  # type: ignore[assignment]
    seeded = await api.seed(url, acc.org, acc.owner, acc.agents, sessions, 1.0, random.Random(42))
    db = await open_db(url)
    rows = await db.fetch("SELECT conversation, count(*) FROM message GROUP BY conversation "
                          f"ORDER BY abs(count(*) - {THREAD}), conversation LIMIT 20")
    await db.close()
    login = await client.post("/ui/login", json={"email": "owner@bench.test", "password": PASSWORD},
                              headers={"Accept": "application/json"})
    cookie = login.cookies.get("wacc_session")
    if login.status_code != 200 or not cookie:
        raise RuntimeError(f"/ui/login: {login.status_code} {login.text[:300]}")
    seeded.counts["seconds"] = round(seeded.seconds)
    seeded.counts["shortest thread"] = min(r[1] for r in rows)
    seeded.counts["longest thread"] = max(r[1] for r in rows)
    return acc.owner_token, cookie, [r[0] for r in rows], seeded.counts


async def run(args: argparse.Namespace, server: Server, url: str) -> None:
    async with httpx.AsyncClient(base_url=server.base, timeout=60.0) as client:
        token, cookie, threads, counts = await prepare(args, client, url)
    lo, hi, seconds = counts.pop("shortest thread"), counts.pop("longest thread"), counts.pop("seconds")
    print(f"UI pages — {'PostgreSQL + Redis' if args.pg else 'SQLite (embedded)'}: "
          + ", ".join(f"{v:,} {k}" for k, v in counts.items())
          + f", seeded in {seconds} s; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f} before the load", flush=True)
    api_h = f"Authorization: Bearer {token}\r\nAccept: application/json\r\n"
    ui_h = f"Cookie: wacc_session={cookie}\r\nAccept: text/html\r\n"
    t = threads
    targets = [
        ("GET /health (baseline)", "", ["/health"]),
        ("GET /api/v1/conversations (baseline)", api_h, ["/api/v1/conversations?status=OPEN&limit=40"]),
        ("GET /ui/inbox/list", ui_h, ["/ui/inbox/list"]),
        ("GET /inbox", ui_h, ["/inbox"]),
        ("GET /inbox/{id}", ui_h, [f"/inbox/{c}" for c in t]),
        ("GET /ui/inbox/conversation/{id}/messages", ui_h,
         [f"/ui/inbox/conversation/{c}/messages" for c in t]),
        ("GET /api/v1/conversations/{id}/messages", api_h,
         [f"/api/v1/conversations/{c}/messages?limit=40" for c in t]),
        ("GET /contacts", ui_h, ["/contacts"]),
        ("GET /ui/contacts/rows", ui_h, ["/ui/contacts/rows"]),
    ]
    print(f"closed loop, {args.clients} connections, {args.seconds:g} s per request after a "
          f"warm-up; {len(threads)} threads of {lo}-{hi} messages; the inbox list shows 40 open "
          "conversations; latencies in ms; web CPU: ms of the web role's CPU per request; p50/hl: p50 over "
          "/health's", flush=True)
    print(HEADER, flush=True)
    web = server.pids("web")
    base = 0.0
    for name, headers, paths in targets:
        await closed_loop(server.port, headers, paths, args.clients, min(1.0, args.seconds / 2), web)
        result = await closed_loop(server.port, headers, paths, args.clients, args.seconds, web)
        base = base or pct(result.latencies, 50)
        print(result.row(name, base), flush=True)
    print(f"load average after the load: {os.getloadavg()[0]:.2f}; budget for reference: inbox "
          f"list p95 < {BUDGET_MS:.0f} ms at 200 req/s (open loop; see bench/api.py)")


async def main() -> None:
    args = arguments()
    tmp = Path(tempfile.mkdtemp(prefix="wacc-bench-ui-"))
    url = await fresh_pg(args.pg) if args.pg else f"sqlite:///{tmp / 'data' / 'wacc.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WACC_")} | {
        "WACC_DATA_DIR": str(tmp / "data"), "WACC_DATABASE_URL": url,
        "WACC_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        # A few clients stand for many users: the limiter still runs on every request.
        "WACC_RATE_LIMIT_PER_MINUTE": "100000000", "WACC_AUTH_ACCESS_TOKEN_MINUTES": "240",
    } | ({"WACC_REDIS_URL": args.redis_url} if args.pg else {})
    server = Server(env, tmp / "server.log")
    try:
        await server.start()
        await run(args, server, url)
    finally:
        server.stop()
        if args.keep:
            print(f"kept {tmp}" + (f" and {url}" if args.pg else ""))
        else:
            if args.pg:
                await drop_pg(args.pg, url)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
