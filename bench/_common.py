"""Helpers the bench scripts share: throwaway PostgreSQL databases, percentiles, `wacc run`
as a subprocess, and an open-loop HTTP load generator."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

API = "/api/v1"
PASSWORD = "bench horse battery"  # noqa: S105


async def fresh_pg(url: str) -> str:
    """A new empty database on the server *url* points at; returns its URL."""
    import asyncpg

    name = f"wacc_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def drop_pg(admin_url: str, url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    await conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
    await conn.close()


def pct(values: list[float], p: float) -> float:
    """The p-th percentile of *values* (seconds), in milliseconds; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def cpu_seconds(pids: list[int]) -> float:
    """CPU time these processes have used so far (a process that is gone counts 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


# -- `wacc run` -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`wacc run` with all four roles, as a subprocess tree of its own."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.env = {**env, "WACC_HTTP_PORT": str(self.port)}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "wacc.cli.main", "run"], env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT)

    async def start(self) -> None:
        self.spawn()
        assert self.proc is not None
        async with httpx.AsyncClient(base_url=self.base) as client:
            for _ in range(600):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/health")).status_code == 200:
                        return
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.1)
        raise RuntimeError(f"wacc run did not come up; see {self.log}")

    def pids(self, role: str) -> list[int]:
        """The role's process, found among the supervisor's children."""
        if self.proc is None:
            return []
        with contextlib.suppress(OSError):
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
            return [int(k) for k in kids
                    if role.encode() in Path(f"/proc/{k}/cmdline").read_bytes().split(b"\0")]
        return []

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- accounts, through the API ----------------------------------------------------------


@dataclass
class Accounts:
    org: str
    owner: str
    owner_token: str
    agents: list[str] = field(default_factory=list)
    agent_tokens: list[str] = field(default_factory=list)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def ok(response: httpx.Response, status: int = 200) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url.path}: {response.status_code} {response.text[:300]}")
    return response.json() if response.content else None


async def accounts(client: httpx.AsyncClient, agents: int) -> Accounts:
    """An owner who registers, and agents invited the way the product invites them."""
    body = await ok(await client.post(f"{API}/auth/register", json={
        "organizationName": "Bench", "name": "Olivia Owner", "email": "owner@bench.test",
        "password": PASSWORD}), 201)
    acc = Accounts(body["user"]["organizationId"], body["user"]["id"], body["accessToken"])
    for i in range(agents):
        invite = await ok(await client.post(
            f"{API}/organizations/{acc.org}/users", headers=auth(acc.owner_token),
            json={"email": f"agent{i}@bench.test", "name": f"Agent {i}", "role": "AGENT"}), 201)
        await ok(await client.post(f"{API}/auth/invites/accept", json={
            "token": invite["inviteUrl"].rsplit("/", 1)[1], "password": PASSWORD}), 201)
        login = await ok(await client.post(f"{API}/auth/login", json={
            "email": f"agent{i}@bench.test", "password": PASSWORD}))
        acc.agents.append(login["user"]["id"])
        acc.agent_tokens.append(login["accessToken"])
    return acc


async def session(client: httpx.AsyncClient, token: str, name: str, connect: bool) -> str:
    return str((await ok(await client.post(f"{API}/whatsapp/sessions", headers=auth(token), json={
        "name": name, "engine": "simulator", "connect": connect}), 201))["id"])


async def connected(client: httpx.AsyncClient, token: str, sid: str) -> None:
    """Pair the simulator session (scan its QR code) and wait until it is connected."""
    for _ in range(300):
        s = (await client.get(f"{API}/whatsapp/sessions/{sid}", headers=auth(token))).json()
        if s["status"] == "CONNECTED":
            return
        if s["status"] == "QR_READY":
            await client.post(f"{API}/whatsapp/sessions/{sid}/simulator", headers=auth(token),
                              json={"action": "scan"})
        await asyncio.sleep(0.1)
    raise RuntimeError("the simulator session did not connect")



# -- open-loop load ---------------------------------------------------------------------

# (label for a per-variant breakdown, path with query string, bearer token or None)
Request = tuple[str, str, str | None]


class Http:
    """A bare HTTP/1.1 keep-alive client for load. httpx spends about a millisecond of
    CPU per request, which at 500 requests/s takes half of a core from the server being
    measured on a small machine; this spends a fraction of that."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self, path: str, token: str | None) -> int:
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{auth}\r\n".encode()
        while True:
            reused = bool(self.idle)
            reader, writer = self.idle.pop() if reused else await asyncio.open_connection(
                self.host, self.port)
            try:
                writer.write(request)
                head = (await reader.readuntil(b"\r\n\r\n")).lower()
                at = head.index(b"\r\ncontent-length:") + 17
                await reader.readexactly(int(head[at:head.index(b"\r\n", at)]))
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                writer.close()
                if reused and not getattr(exc, "partial", b""):
                    continue  # the server had closed this idle keep-alive connection
                raise
            except BaseException:
                writer.close()
                raise
            if b"\r\nconnection: close" in head:
                writer.close()
            else:
                self.idle.append((reader, writer))
            return int(head[9:12])

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


@dataclass
class Run:
    rate: float
    sent: int
    latencies: list[float]
    errors: collections.Counter[str]
    by_label: dict[str, list[float]]
    late_p99_ms: float  # how late the generator itself sent: its own saturation
    elapsed: float
    # Share of one core each watched group of processes used during the run, and "gen",
    # this generator (the machine has os.cpu_count() cores in all).
    cpu: dict[str, float]

    @property
    def p95(self) -> float:
        return pct(self.latencies, 95)

    def held(self, ceiling_ms: float) -> bool:
        return not self.errors and self.p95 < ceiling_ms

    def row(self, name: str) -> str:
        errs = ",".join(f"{k} x{v}" for k, v in self.errors.items()) or "0"
        done = self.sent - self.errors.get("unfinished", 0)  # answered, by the end of the run
        return (f"  {name:<24} {self.rate:>5.0f} {done / self.elapsed:>8.1f} "
                f"{pct(self.latencies, 50):>8.1f} {self.p95:>8.1f} {pct(self.latencies, 99):>8.1f}"
                f"  {errs:<16} {self.late_p99_ms:>6.1f} "
                + " ".join(f"{v:>4.0%}" for v in self.cpu.values()))


def header(watched: list[str]) -> str:
    return (f"  {'endpoint':<24} {'req/s':>5} {'achieved':>8} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'p99 ms':>8}  {'errors':<16} {'late':>6} " + " ".join(f"{w:>4}" for w in watched))


async def open_loop(http: Http, make: Callable[[int], Request], rate: float, seconds: float,
                    watch: dict[str, list[int]] | None = None, grace: float = 15.0) -> Run:
    """Send the i-th request at start + i/rate whether or not earlier ones came back, and
    time each from that moment, so waiting in any queue counts (no coordinated omission).
    Stops early once three seconds' worth of requests are outstanding: the rate is then
    plainly not held, and going on would only grow the server's backlog."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    by_label: dict[str, list[float]] = collections.defaultdict(list)
    errors: collections.Counter[str] = collections.Counter()
    late: list[float] = []
    tasks: dict[asyncio.Task[None], float] = {}

    async def one(i: int, at: float) -> None:
        label, path, token = make(i)
        try:
            status = await http.get(path, token)
            if status != 200:
                errors[str(status)] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] += 1
        took = loop.time() - at
        latencies.append(took)
        by_label[label].append(took)

    http.close()  # no keep-alive connection carried over from the previous run
    n = max(1, int(rate * seconds))
    watch = {**(watch or {}), "gen": [os.getpid()]}
    cpu0, wall0 = {k: cpu_seconds(v) for k, v in watch.items()}, time.perf_counter()
    start = loop.time() + 0.05
    sent = 0
    for i in range(n):
        at = start + i / rate
        if (delay := at - loop.time()) > 0:
            await asyncio.sleep(delay)
        if len(tasks) > 3 * rate + 50:
            errors["stopped: backlog"] = n - i
            break
        late.append(loop.time() - at)
        task = asyncio.create_task(one(i, at))
        tasks[task] = at
        task.add_done_callback(tasks.pop)
        sent += 1
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=grace)
        for task in pending:  # counted with how long they had waited so far
            latencies.append(loop.time() - tasks[task])
            task.cancel()
        if pending:
            errors["unfinished"] = len(pending)
    wall = time.perf_counter() - wall0
    cpu = {k: (cpu_seconds(v) - cpu0[k]) / wall for k, v in watch.items()}
    return Run(rate, sent, latencies, errors, dict(by_label), pct(late, 99), loop.time() - start, cpu)
