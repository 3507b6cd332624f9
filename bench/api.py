"""API latency under open-loop load beside trivial endpoints, and ingest → WebSocket latency.

    python bench/api.py --database-url postgresql://postgres@127.0.0.1:5432/postgres \\
        --redis-url redis://127.0.0.1:6379/11 [--scale 0.01] [--seconds 10]

Seeds a throwaway PostgreSQL database, after the real migrations, with 1M messages,
100k contacts and 50k conversations (times --scale) by COPY, then starts `wacc run` on
it as production would and requests each endpoint on a fixed schedule: open loop, a
request goes out on time whether or not earlier ones came back (as from a thousand
agents' browsers), and its latency counts from that time, so queueing is measured.
Prints p50/p95/p99 per endpoint and rate, the highest rate each holds with p95 under
200 ms, and the latency from the simulator's customer phone to a connected WebSocket
client at 100 messages/s. Decides nothing. Record results in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
from _common import (
    API,
    Accounts,
    Http,
    Request,
    Run,
    Server,
    accounts,
    auth,
    connected,
    cpu_seconds,
    drop_pg,
    fresh_pg,
    header,
    open_loop,
    pct,
    session,
)

RATES = (50, 200, 500)
HELD_MS = 200.0  # the seed's latency ceiling: a rate is "held" while p95 stays under it
INBOX_BUDGET_MS = 50.0  # p95 at 200 requests/s
WS_BUDGET_MS = 50.0  # p99, ingest → WebSocket at 100 messages/s
FULL = {"messages": 1_000_000, "contacts": 100_000, "conversations": 50_000}
AGENT_SHARES = (0.35, 0.25, 0.2, 0.12, 0.08)  # who gets assigned how much, skewed
WORDS = """hi hello thanks please order delivery price size colour blue red black white
green shoes shirt jacket dress bag refund return exchange invoice payment card cash
tomorrow today monday friday week available stock store address open close hours
discount coupon sale new model photo picture link track tracking parcel courier late
arrived broken wrong missing cancel change confirm booking appointment table dinner
menu vegan allergy warranty repair screen battery charger phone laptop install
subscription renew plan upgrade account password login email receipt ok great sure
sorry wait minute problem help question answer soon morning evening weekend
kitchen sofa chair lamp mattress pillow blanket curtain carpet mirror shelf drawer
bicycle helmet gloves scarf boots sandals sneakers hoodie trousers skirt belt wallet
watch bracelet necklace earrings ring perfume shampoo cream lotion vitamins pharmacy
prescription doctor clinic dentist insurance claim policy contract lawyer visa passport
flight hotel taxi airport luggage ticket concert festival museum gallery cinema
birthday wedding gift flowers cake bakery coffee tea juice pizza burger salad noodles
sushi catering quote estimate deposit instalment transfer iban bank balance
overdue reminder statement voucher loyalty points membership gym yoga pilates lesson
tutor exam homework school""".split()  # noqa: SIM905
# Zipf-like but flattened: the commonest word is in about one message in seven, the
# rarest in about one in eighty; ten per cent of messages carry an order number.
WEIGHTS = [1 / (k + 20) for k in range(len(WORDS))]
FIRST = """Ana Ben Carla David Elena Farid Grace Hugo Ines Jonas Kemal Lucia Marco Nadia
Omar Paula Quentin Rosa Samir Tania Umar Vera Walter Ximena Yusuf Zoe""".split()  # noqa: SIM905
LAST = """Garcia Smith Silva Okafor Novak Rossi Schmidt Dubois Kowalski Tanaka Haddad
Costa Jensen Murphy Petrov Nguyen Santos Weber Lopez Ahmed""".split()  # noqa: SIM905
TAGS = ["vip", "wholesale", "complaint", "lead", "returning", "urgent-followup",
        "newsletter", "billing"]
STATUSES = (("RESOLVED", 0.6), ("OPEN", 0.2), ("PENDING", 0.1), ("CLOSED", 0.08), ("SPAM", 0.02))
PRIORITIES = (("NORMAL", 0.8), ("HIGH", 0.1), ("LOW", 0.07), ("URGENT", 0.03))


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


def _sizes(rng: random.Random, total: int, n: int) -> list[int]:
    """Messages per conversation: log-normal (most short, a few thousands long), summing to *total*."""
    raw = [rng.lognormvariate(0, 1.4) for _ in range(n)]
    k = total / sum(raw)
    sizes = [max(1, int(x * k)) for x in raw]
    diff = total - sum(sizes)
    for j in rng.choices(range(n), k=max(diff, 0)):
        sizes[j] += 1
    for j in sorted(range(n), key=sizes.__getitem__, reverse=True)[: max(-diff, 0)]:
        sizes[j] -= 1
    return sizes


@dataclass
class Seeded:
    conversations: list[str]
    tags: list[str]
    counts: dict[str, int]
    seconds: float = 0.0
    vacuum_seconds: float = 0.0


async def seed(url: str, org: str, owner: str, agents: list[str], sessions: list[str],
               scale: float, rng: random.Random) -> Seeded:
    """Bulk-load an inbox's history straight into the migrated schema."""
    n = {k: max(1, int(v * scale)) for k, v in FULL.items()}
    started = time.perf_counter()
    now = datetime.now(UTC)
    new = lambda: str(uuid.uuid4())  # noqa: E731
    conn = await asyncpg.connect(url)
    tags = [new() for _ in TAGS]
    await conn.copy_records_to_table("tag", columns=["id", "organization", "name"],
                                     records=[(t, org, name) for t, name in zip(tags, TAGS, strict=True)])
    contact_ids = [new() for _ in range(n["contacts"])]
    sizes = _sizes(rng, n["messages"], n["conversations"])
    convs = []  # (id, contact, session, first, last, size)
    for i, size in enumerate(sizes):
        last = now - timedelta(seconds=min(rng.expovariate(1 / (20 * 86400)), 365 * 86400))
        first = last - timedelta(minutes=15 * (size - 1) * rng.uniform(0.5, 1.5))
        convs.append((new(), contact_ids[i % len(contact_ids)], sessions[rng.random() < 0.3],
                      first, last, size))
    last_of = {c[1]: c[4] for c in convs}
    await conn.copy_records_to_table(
        "contact", columns=["id", "organization", "whatsapp_id", "name", "phone_number", "email",
                            "created_at", "updated_at", "last_message_at"],
        records=[(cid, org, f"1555{i:07d}@c.us", f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                  f"+1555{i:07d}", f"customer{i}@example.com" if rng.random() < 0.3 else None,
                  at := now - timedelta(days=rng.uniform(0, 365)), at, last_of.get(cid))
                 for i, cid in enumerate(contact_ids)])
    await conn.copy_records_to_table(
        "contact_tag", columns=["id", "contact", "tag"],
        records=[(new(), cid, rng.choice(tags)) for cid in contact_ids if rng.random() < 0.2])
    await conn.copy_records_to_table(
        "conversation", columns=["id", "organization", "session", "contact", "status", "priority",
                                 "last_message_at", "created_at", "updated_at"],
        records=[(c[0], org, c[2], c[1], _pick(rng, STATUSES), _pick(rng, PRIORITIES), c[4], c[3],
                  c[4]) for c in convs])
    assigned = [(new(), c[0], rng.choices(agents, AGENT_SHARES[: len(agents)])[0], c[3], owner)
                for c in convs if rng.random() < 0.8]
    await conn.copy_records_to_table(
        "conversation_assignment",
        columns=["id", "conversation", "user", "assigned_at", "assigned_by"], records=assigned)
    await conn.copy_records_to_table(
        "conversation_tag", columns=["id", "conversation", "tag"],
        records=[(new(), c[0], t) for c in convs if rng.random() < 0.35
                 for t in rng.sample(tags, 1 + (rng.random() < 0.3))])

    def read_mark(c: tuple[Any, ...]) -> datetime | None:
        """Most conversations read to the end, some a few messages short, a few never opened."""
        r, first, last, size = rng.random(), c[3], c[4], c[5]
        if r < 0.05:
            return None
        if r < 0.85 or size == 1:
            return last
        return last - (last - first) * rng.randint(1, min(5, size - 1)) / (size - 1) - timedelta(seconds=1)

    marks = [(new(), c[0], user, mark) for user in [owner, *agents] for c in convs
             if (mark := read_mark(c)) is not None]
    await conn.copy_records_to_table(
        "conversation_read", columns=["id", "conversation", "user", "last_read_at"], records=marks)

    def messages() -> Any:
        seq = 0
        for cid, _, sid, first, last, size in convs:
            step = (last - first) / max(size - 1, 1)
            for j in range(size):
                seq += 1
                inbound = rng.random() < 0.55
                at = first + step * j
                body = " ".join(rng.choices(WORDS, WEIGHTS, k=rng.randint(2, 12)))
                if rng.random() < 0.1:
                    body += f" order #{rng.randint(10000, 99999)}"
                yield (new(), org, cid, sid, f"SEED{seq}", "INBOUND" if inbound else "OUTBOUND", body,
                       "DELIVERED" if inbound else "READ", at, at)

    await conn.copy_records_to_table(
        "message", columns=["id", "organization", "conversation", "session", "whatsapp_message_id",
                            "direction", "body", "status", "timestamp", "created_at"],
        records=messages())
    loaded = time.perf_counter()
    # A long-lived database has statistics and a visibility map; without this the first
    # minutes would measure autovacuum catching up with a million fresh rows.
    await conn.execute("VACUUM ANALYZE")
    await conn.close()
    done = time.perf_counter()
    counts = {**n, "assignments": len(assigned), "read marks": len(marks)}
    return Seeded([c[0] for c in convs], tags, counts, loaded - started, done - loaded)


# -- the load ---------------------------------------------------------------------------


def target(path: str, query: dict[str, Any] | None = None) -> str:
    return f"{path}?{urlencode(query)}" if query else path


def cycle(items: list[tuple[str, str]], tokens: list[str | None]) -> Callable[[int], Request]:
    """The i-th request: the items in turn, the tokens (agents) in turn."""
    return lambda i: (*items[i % len(items)], tokens[(i // len(items) + i) % len(tokens)])


def endpoints(acc: Accounts, seeded: Seeded, rng: random.Random,
              search: bool) -> dict[str, Callable[[int], Request]]:
    tokens: list[str | None] = list(acc.agent_tokens)
    inbox = [("all", {}), ("open", {"status": "OPEN"}),
             ("mine", {"assignee": "me", "status": "OPEN,PENDING"}),
             ("tag", {"tagId": seeded.tags[0]}), ("unassigned", {"assignee": "unassigned"})]
    names = [*(n.lower() for n in LAST), *(n[:3].lower() for n in FIRST)]
    pages = rng.sample(seeded.conversations, min(2000, len(seeded.conversations)))
    out = {
        "health (trivial)": cycle([("", "/health")], [None]),
        "auth/me (trivial+auth)": cycle([("", f"{API}/auth/me")], tokens),
        "inbox list": cycle([(label, target(f"{API}/conversations", {"limit": 25, **query}))
                             for label, query in inbox], tokens),
        "message page": cycle([("", target(f"{API}/conversations/{c}/messages", {"limit": 50}))
                               for c in pages], tokens),
        "contact search": cycle([("name", target(f"{API}/contacts", {"search": t, "limit": 25}))
                                 for t in names] + [("phone", target(f"{API}/contacts", {
                                     "search": "555001", "limit": 25}))], tokens),
    }
    if search:
        # Common words match a large share of the million messages, rare ones a few.
        common, rare, middle = WORDS[:8], WORDS[-40:], WORDS[20:60]
        queries = ([("common", w) for w in common] + [("rare", w) for w in rare[:8]]
                   + [("two words", f"{a} {b}") for a, b in zip(middle[:8], middle[8:16], strict=True)]
                   + [("prefix", w[:4]) for w in middle[16:24]]
                   + [("order no.", str(rng.randint(10000, 99999))) for _ in range(8)])
        out["full-text search"] = cycle([(label, target(f"{API}/search/messages", {
            "q": q, "limit": 20})) for label, q in queries], tokens)
        out["contact search (FTS)"] = cycle([("", target(f"{API}/search/contacts", {
            "q": t, "limit": 20})) for t in names], tokens)
    return out


@dataclass
class Backends:
    """The PostgreSQL processes working for the server: its pool's connections, and the
    parallel workers they start for one query. Those live a fraction of a second, so
    their CPU is sampled while they run (a lower bound: the last moments are missed)."""

    conn: asyncpg.Connection
    server: Server

    async def pids(self) -> list[int]:
        rows = await self.conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
        return [r["pid"] for r in rows]

    async def parallel_workers(self, stop: asyncio.Event) -> float:
        seen: dict[int, float] = {}
        while not stop.is_set():
            for r in await self.conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = "
                                           "current_database() AND backend_type = 'parallel worker'"):
                seen[r["pid"]] = max(seen.get(r["pid"], 0.0), cpu_seconds([r["pid"]]))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)
        return sum(seen.values())


async def settle(client: httpx.AsyncClient, token: str) -> None:
    """Wait until an authenticated request is quick again three times running, so one
    run's backlog (requests the server still works on) does not spill into the next."""
    quick, deadline = 0, time.monotonic() + 120
    while quick < 3 and time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            await client.get(f"{API}/auth/me", headers=auth(token))
            fast = time.perf_counter() - started < 0.1
        except httpx.HTTPError:
            fast = False
        quick = quick + 1 if fast else 0
        await asyncio.sleep(0.3)


async def measure(http: Http, client: httpx.AsyncClient, token: str, name: str,
                  make: Callable[[int], Request], rates: list[float], seconds: float, probes: int,
                  backends: Backends) -> dict[float, Run]:
    """Each rate in turn, then up to *probes* bisection steps towards the highest rate
    held. A rate above one that already built a backlog is skipped (it would only build
    a bigger one), except the inbox budget's own 200/s."""
    runs: dict[float, Run] = {}

    async def at(rate: float) -> None:
        watch = {"web": backends.server.pids("web"), "db": await backends.pids()}
        stop = asyncio.Event()
        workers = asyncio.create_task(backends.parallel_workers(stop))
        run = runs[rate] = await open_loop(http, make, rate, seconds, watch)
        stop.set()
        run.cpu["db"] += await workers / run.elapsed
        print(run.row(name), flush=True)
        if len(run.by_label) > 1:
            print("      p95 by variant: " + ", ".join(
                f"{k} {pct(v, 95):.1f}" for k, v in sorted(run.by_label.items())), flush=True)
        if len(runs) == 1:  # CPU per request while the rate is still met
            done = max(1, len(run.latencies))
            print("      CPU per request: " + ", ".join(
                f"{k} {share * run.elapsed / done * 1000:.1f} ms" for k, share in run.cpu.items()))
        await settle(client, token)

    for rate in rates:
        budgeted = name == "inbox list" and rate == 200.0  # the budget's own figure, always
        if not budgeted and any("stopped: backlog" in run.errors for run in runs.values()):
            print(f"  {name:<24} {rate:>5.0f}  not run: a lower rate already built a backlog")
            continue
        await at(rate)
    for _ in range(probes):
        low, high = bracket(runs)
        mid = round((low + high) / 2 / 5) * 5 if high else 0
        if not high or not low < mid < high or high - low < 20:
            break
        await at(mid)
    return runs


def bracket(runs: dict[float, Run]) -> tuple[float, float | None]:
    """The highest rate held and the lowest above it that was not (None: all held)."""
    low = max((r for r, run in runs.items() if run.held(HELD_MS)), default=0.0)
    failed = [r for r, run in runs.items() if r > low and not run.held(HELD_MS)]
    return low, min(failed, default=None)


def held_rate(runs: dict[float, Run]) -> str:
    low, high = bracket(runs)
    if not low:
        return f"< {min(runs):.0f} req/s"
    return f"≥ {low:.0f} req/s (highest tried)" if high is None else f"{low:.0f} req/s (not {high:.0f})"


# -- ingest → WebSocket ------------------------------------------------------------------


# Hands the i-th customer message to the simulator.
Phone = Callable[[int], Awaitable[None]]


def via_api(client: httpx.AsyncClient, token: str, sid: str, tag: str) -> Phone:
    """The simulator's customer phone as the public API offers it (web → wa process)."""
    async def send(i: int) -> None:
        await client.post(f"{API}/whatsapp/sessions/{sid}/simulator", headers=auth(token), json={
            "action": "message", "payload": _customer_message(i, tag)})
    return send


def via_wa(client: httpx.AsyncClient, rpc_url: str, rpc_token: str, sid: str, tag: str) -> Phone:
    """The same message handed straight to the wa process that runs the session, as the
    web role forwards it but over one kept-alive connection: the engine's event then
    enters ingest as a real WhatsApp message would, at the rate asked for."""
    from wacc.sessions.rpc import HEADER as RPC_HEADER

    async def send(i: int) -> None:
        await client.post(f"{rpc_url}/rpc/{sid}/simulate", headers={RPC_HEADER: rpc_token},
                          json={"action": "message", **_customer_message(i, tag)})
    return send


def _customer_message(i: int, tag: str) -> dict[str, Any]:
    return {"phone": f"+1415555{i % 200:04d}", "id": f"BENCH{tag}{i}",
            "body": f"bench-{tag} {i} is my order on its way?"}


async def ws_latency(base: str, token: str, phone: Phone, tag: str, rate: float,
                     seconds: float) -> dict[str, list[float]] | str:
    """Customer messages on schedule; latency until a signed-in WebSocket client sees each
    as message:new, from the scheduled send and from the message's own timestamp (when the
    engine handed it to ingest; same machine, same clock), and of the send call alone.
    Or why it could not be measured."""
    try:
        from websockets.asyncio.client import connect
    except ImportError:
        return "no WebSocket client library (websockets) installed"
    loop = asyncio.get_running_loop()
    n = int(rate * seconds)
    start = loop.time() + 0.5
    sent_at = [start + i / rate for i in range(n)]
    out: dict[str, list[float]] = {"send → socket": [], "ingest → socket": [], "send call": []}
    stamps: list[float] = []
    everything = asyncio.Event()
    try:
        ws = await connect(base.replace("http", "ws", 1) + f"{API}/ws", open_timeout=10)
    except Exception as exc:
        return f"{API}/ws not available ({type(exc).__name__}: {exc})"
    async with ws:
        await ws.send(json.dumps({"type": "authenticate", "token": token}))
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if hello.get("type") != "authenticated":
            return f"{API}/ws did not authenticate: {hello}"

        async def read() -> None:
            async for raw in ws:
                event = json.loads(raw)
                words = (event.get("body") or "").split()
                if event.get("type") == "message:new" and words[:1] == [f"bench-{tag}"]:
                    stamp = datetime.fromisoformat(event["timestamp"]).timestamp()
                    out["ingest → socket"].append(time.time() - stamp)
                    out["send → socket"].append(loop.time() - sent_at[int(words[1])])
                    stamps.append(stamp)
                    if len(stamps) >= n:
                        everything.set()

        async def send(i: int) -> None:
            with contextlib.suppress(httpx.HTTPError):
                await phone(i)
            out["send call"].append(loop.time() - sent_at[i])

        reading = asyncio.create_task(read())
        senders = []
        for i, at in enumerate(sent_at):
            if (delay := at - loop.time()) > 0:
                await asyncio.sleep(delay)
            senders.append(asyncio.create_task(send(i)))
        await asyncio.gather(*senders)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(everything.wait(), 20)
        reading.cancel()
    span = max(stamps) - min(stamps) if len(stamps) > 1 else 0.0
    print(f"    {len(stamps)}/{n} seen on the socket; ingested at "
          f"{(len(stamps) - 1) / span if span else 0:.0f} messages/s")
    return out


async def report_ws(client: httpx.AsyncClient, base: str, url: str, token: str, sid: str,
                    key: bytes, rate: float, seconds: float) -> None:
    from wacc.security.crypto import Keyring
    from wacc.sessions.rpc import rpc_token

    conn = await asyncpg.connect(url)
    rpc_url = await conn.fetchval("SELECT rpc_url FROM session_lease WHERE session = $1", sid)
    await conn.close()
    print(f"\ningest → WebSocket at {rate:g} messages/s for {seconds:g} s, one signed-in socket "
          f"(budget: ingest → socket p99 < {WS_BUDGET_MS:.0f} ms):")
    # The public API path tops out far below 100/s (see docs/performance.md); a short run
    # shows where, without minutes of backlog.
    for tag, phone, length in (
            ("wa", via_wa(client, rpc_url, rpc_token(Keyring((key,))), sid, "wa"), seconds),
            ("api", via_api(client, token, sid, "api"), min(seconds, 3.0))):
        print("  handed straight to the wa process:" if tag == "wa" else
              "  through the public API (POST …/simulator, web → wa):")
        out = await ws_latency(base, token, phone, tag, rate, length)
        if isinstance(out, str):
            print(f"  not measured: {out}")
            return
        for what, values in out.items():
            print(f"    {what:<16} p50 {pct(values, 50):8.1f}  p95 {pct(values, 95):8.1f}  "
                  f"p99 {pct(values, 99):8.1f} ms")
        await settle(client, token)


# -- main -------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server to make the throwaway database on")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 1M messages etc.")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each rate's run")
    parser.add_argument("--rates", default=",".join(map(str, RATES)))
    parser.add_argument("--probes", type=int, default=2,
                        help="bisection steps towards each endpoint's highest held rate")
    parser.add_argument("--only", default="", help="comma-separated endpoint names (default: all)")
    parser.add_argument("--ws-rate", type=float, default=100.0)
    parser.add_argument("--keep", action="store_true", help="keep the database and the server log")
    parser.add_argument("--sql", action="append", default=[],
                        help="a statement to run after seeding, e.g. to try an index before a "
                        "migration adds it (may repeat)")
    return parser.parse_args()


async def load_phase(args: argparse.Namespace, client: httpx.AsyncClient, server: Server, url: str,
                     acc: Accounts, seeded: Seeded, rng: random.Random) -> None:
    """Every endpoint at every rate, then what each held."""
    search = (await client.get(f"{API}/search/messages", params={"q": "refund"},
                               headers=auth(acc.owner_token))).status_code == 200
    load = endpoints(acc, seeded, rng, search)
    wanted = [e.strip() for e in args.only.split(",") if e.strip()] or list(load)
    print(f"\nmachine load average (1 min) before the load: {os.getloadavg()[0]:.2f}")
    print(f"open loop, {args.seconds:g} s per rate, latency from the scheduled send time; "
          "late: the generator's own p99 lateness (ms); web, db, gen: share of one core used "
          "by the web role, by its PostgreSQL backends, by this generator "
          f"({os.cpu_count()} cores in all)")
    print(header(["web", "db", "gen"]), flush=True)
    http = Http("127.0.0.1", server.port)
    backends = Backends(await asyncpg.connect(url), server)
    results = {name: await measure(http, client, acc.owner_token, name, load[name],
                                   [float(r) for r in args.rates.split(",")], args.seconds,
                                   args.probes, backends)
               for name in wanted if name in load}
    http.close()
    await backends.conn.close()
    print(f"machine load average (1 min) after the load: {os.getloadavg()[0]:.2f}")
    if not search:
        print(f"  full-text search: not available ({API}/search/messages did not answer 200)")
    print("\nhighest rate held (p95 < 200 ms, no errors):")
    for name, runs in results.items():
        print(f"  {name:<24} {held_rate(runs)}")
    inbox = results.get("inbox list", {}).get(200.0)
    print("budget: inbox list p95 at 200 req/s " + (
        f"{inbox.p95:.1f} ms" if inbox else "not measured")
        + f" (budget < {INBOX_BUDGET_MS:.0f} ms)")


async def main() -> None:
    args = arguments()
    rng = random.Random(42)
    tmp = Path(tempfile.mkdtemp(prefix="wacc-bench-api-"))
    url = await fresh_pg(args.database_url)
    key = os.urandom(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WACC_")} | {
        "WACC_DATA_DIR": str(tmp / "data"), "WACC_DATABASE_URL": url,
        "WACC_REDIS_URL": args.redis_url, "WACC_SECRET_KEY": base64.b64encode(key).decode(),
        # Five agents stand for a thousand: at 100 requests/min each they would get 429s.
        # The limiter still runs on every request.
        "WACC_RATE_LIMIT_PER_MINUTE": "100000000", "WACC_AUTH_ACCESS_TOKEN_MINUTES": "240",
    }
    server = Server(env, tmp / "server.log")
    try:
        await server.start()
        async with httpx.AsyncClient(base_url=server.base, timeout=30.0) as client:
            acc = await accounts(client, len(AGENT_SHARES))
            sessions = [await session(client, acc.owner_token, name, False) for name in ("Sales", "Support")]
            seeded = await seed(url, acc.org, acc.owner, acc.agents, sessions, args.scale, rng)
            counts = ", ".join(f"{v:,} {k}" for k, v in seeded.counts.items())
            print(f"API benchmark — PostgreSQL, scale {args.scale:g}: {counts}\n  seeded by COPY in "
                  f"{seeded.seconds:.1f} s, then VACUUM ANALYZE {seeded.vacuum_seconds:.1f} s\n"
                  "  server: `wacc run` (web, worker, scheduler, wa; one web process), Redis; "
                  "the load generator is this process, on the same machine", flush=True)
            if args.sql:
                conn = await asyncpg.connect(url)
                for statement in args.sql:
                    print(f"  what-if: {statement}")
                    await conn.execute(statement)
                await conn.execute("ANALYZE")
                await conn.close()
            await load_phase(args, client, server, url, acc, seeded, rng)
            live = await session(client, acc.owner_token, "Live", True)
            await connected(client, acc.owner_token, live)
            await report_ws(client, server.base, url, acc.owner_token, live, key, args.ws_rate,
                            args.seconds)
    finally:
        server.stop()
        if args.keep:
            print(f"kept {url} and {tmp}")
        else:
            await drop_pg(args.database_url, url)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
