"""Test fixtures: a real wacc web server on a free loopback port, on a real database.

The database is SQLite by default. Set WACC_TEST_DATABASE_URL (a PostgreSQL URL) and
WACC_TEST_REDIS_URL to run the same suite on PostgreSQL + Redis: a fresh database is
created for the run and dropped afterwards. Each test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn
from litestar import Litestar

from tests.helpers import API, add_member, bearer, register
from tests.support.ai import Fakes
from tests.support.env import (
    PG_URL,
    REDIS_URL,
    TEST_KEY,
    create_pg_database,
    drop_pg_database,
    free_port,
    server_env,
)
from tests.support.polling import until
from tests.support.responder import ANSWER, ARTICLE
from tests.support.whatsapp import CARLA, DAN, connected_session, simulate
from wacc import outbox
from wacc.ai.providers.router import router_of
from wacc.app import create_app
from wacc.bus.tables import BusEvent
from wacc.config import Settings, load_settings
from wacc.db.engine import bound_engine, is_sqlite
from wacc.db.migrate import apply_migrations
from wacc.schema import ALL_TABLES
from wacc.security.crypto import Keyring

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wacc-data")


@pytest.fixture(scope="session")
async def database_url(data_dir: Path) -> AsyncIterator[str]:
    if PG_URL:
        url = await create_pg_database()
        yield url
        await drop_pg_database(url)
    else:
        yield f"sqlite:///{data_dir / 'wacc.db'}"


@pytest.fixture(scope="session")
def settings(data_dir: Path, database_url: str) -> Settings:
    return load_settings(server_env(data_dir, database_url))


@dataclass
class Server:
    url: str
    app: Litestar
    settings: Settings


@pytest.fixture(scope="session")
async def server(settings: Settings) -> AsyncIterator[Server]:
    """A real uvicorn server running the app in this event loop, on a free port."""
    app = create_app(settings, keyring=Keyring((base64.b64decode(TEST_KEY),)))
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_config=None,
                            access_log=False)
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve())
    while not srv.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    await apply_migrations(bound_engine(), settings.data_path)
    # As `wacc run` does (migrate, then start): the outbox dispatcher started before the
    # tables existed and may be backing off; start it afresh on the migrated database.
    await app.state["outbox"].stop()
    await app.state["outbox"].start()
    yield Server(url=f"http://127.0.0.1:{port}", app=app, settings=settings)
    srv.should_exit = True
    await task


async def reset_database() -> None:
    engine = bound_engine()
    names = [t._meta.tablename for t in ALL_TABLES]
    if is_sqlite(engine):
        # Every foreign key cascades or nulls on delete, so any order works.
        for name in names:
            if name == BusEvent._meta.tablename:
                # Keep the newest event, as the bus's own pruning does: SQLite reuses the
                # ids of an emptied table, and a running bus reader would take the next
                # test's first events for ones it had already read.
                await engine.run_ddl(f'DELETE FROM "{name}" WHERE id < (SELECT MAX(id) FROM "{name}")')
            else:
                await engine.run_ddl(f'DELETE FROM "{name}"')
    else:
        await engine.run_ddl("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " CASCADE")


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    await reset_database()
    if REDIS_URL:
        r = aioredis.from_url(REDIS_URL)
        await r.flushdb()
        await r.aclose()
    else:
        # Embedded mode keeps rate limits in this process: start each test with none.
        await server.app.state["limiter"].storage.reset()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture
async def make_client(server: Server, data_dir: Path, database_url: str):
    """Build a second app with other settings or plugins, served in-process.

    create_app binds the tables to its own engine; the session server's engine is
    bound again afterwards so later tests are unaffected.
    """
    from litestar.testing import AsyncTestClient

    from wacc.db.engine import bind

    original = bound_engine()
    await reset_database()
    clients = []

    async def factory(env: dict[str, str] | None = None, plugins: Any = None):
        settings = load_settings(server_env(data_dir, database_url, **(env or {})))
        app = create_app(settings, keyring=Keyring((base64.b64decode(TEST_KEY),)),
                         plugins=plugins)
        test_client = AsyncTestClient(app=app, raise_server_exceptions=False)
        await test_client.__aenter__()
        clients.append(test_client)
        return test_client

    yield factory
    for test_client in clients:
        await test_client.__aexit__(None, None, None)
    bind(original, ALL_TABLES)


@pytest.fixture
async def worker(server: Server) -> AsyncIterator[Any]:
    """A job worker: pulls jobs from the real queue (SQLite file or Redis) in a thread
    and runs their async work on this event loop, like the worker role does on its own."""
    import threading
    import time as _time

    from wacc.features import make_plugin_manager
    from wacc.queue import make_huey
    from wacc.queue.jobs import Jobs

    loop = asyncio.get_running_loop()
    runtime = server.app.state["runtime"]
    jobs = Jobs(make_huey(server.settings))
    jobs.huey.flush()

    @outbox.retry_when_away
    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    make_plugin_manager(server.settings).call("wacc_tasks", jobs=jobs, run=run, runtime=runtime)
    outbox.track(jobs)
    stop = threading.Event()
    done: list[Any] = []

    def consume() -> None:
        huey = jobs.huey
        while not stop.is_set():
            for task in huey.read_schedule():
                huey.enqueue(task)
            task = huey.dequeue()
            if task is None:
                _time.sleep(0.02)
                continue
            done.append(huey.execute(task))

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    jobs.done = done  # type: ignore[attr-defined]
    yield jobs
    stop.set()
    await asyncio.to_thread(thread.join, 10)


@pytest.fixture
async def wa(server: Server, data_dir: Path) -> AsyncIterator[Any]:
    """A `wa` role's session manager running in this loop (short leases for tests)."""
    from wacc.messages import outbound
    from wacc.sessions import history
    from wacc.sessions.inbound import inbound_of
    from wacc.sessions.manager import SessionManager

    runtime = server.app.state["runtime"]

    async def kick(session_id: str) -> None:  # what wacc.roles.wa does on ready
        await outbound.enqueue_pending(session_id)
        await history.after_ready(runtime, session_id)

    def build(lease_seconds: int = 3) -> SessionManager:
        return SessionManager(
            engines=runtime.engines, pipeline=inbound_of(runtime).pipeline(),
            bus=runtime.bus, keyring=runtime.keyring, data_dir=data_dir,
            lease_seconds=lease_seconds, rpc_host="127.0.0.1", rpc_port=0, on_ready=kick,
        )

    stops: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(lease_seconds: int = 3) -> SessionManager:
        manager = build(lease_seconds)
        stop = asyncio.Event()
        task = asyncio.create_task(manager.serve(stop))
        while not manager.rpc_url:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        stops.append((stop, task))
        manager.task = task  # type: ignore[attr-defined]
        return manager

    yield start
    for stop, task in stops:
        stop.set()
        if not task.done():
            await asyncio.wait_for(task, 30)


# -- fixtures several test modules share ----------------------------------------------


@pytest.fixture(scope="module")
async def servers() -> AsyncIterator[Fakes]:
    """The fake OpenAI, Anthropic and Gemini APIs (tests/fakes/ai_providers.py), served
    over real HTTP on loopback ports for the whole module."""
    async with Fakes.serving() as fakes:
        yield fakes


@pytest.fixture
def fakes(servers: Fakes, request: pytest.FixtureRequest) -> Fakes:
    """The fake AI providers with no recorded requests, queued failures or canned reply.
    When the test runs the server, its AI router's circuit breakers are closed too, so
    one test's failing provider does not stay open for the next."""
    if "server" in request.fixturenames:
        router_of(request.getfixturevalue("server").app.state["runtime"])._breakers.clear()
    return servers.reset()


@pytest.fixture
async def shop(client, wa, worker, fakes):
    """An organization with two agents, a connected simulator session, an Anthropic
    provider (no embeddings) answering ANSWER, and one knowledge-base article
    (tests/support/responder.py has the helpers that talk to it)."""
    data = await register(client)
    head, org = bearer(data["accessToken"]), data["user"]["organizationId"]
    agents = [(await add_member(client, data["accessToken"], org, "AGENT",
                                email=f"agent{i}@example.com"))["user"]["id"] for i in (1, 2)]
    r = await client.post(f"{API}/ai/providers", headers=head, json={
        "provider": "anthropic", "model": "claude-3-5-haiku-20241022",
        "apiKey": fakes.anthropic.key, "baseUrl": fakes.anthropic.url})
    assert r.status_code == 201, r.text
    fakes.anthropic.reply = ANSWER
    r = await client.post(f"{API}/ai/knowledge-base", headers=head, json={
        "title": "Shipping", "content": ARTICLE, "format": "markdown"})
    assert r.status_code == 201, r.text
    await wa()
    sid, _ = await connected_session(client, head)
    return {"head": head, "org": org, "sid": sid, "agents": agents, "article": r.json(),
            "token": data["accessToken"], "worker": worker, "fakes": fakes}


@pytest.fixture
async def automation_org(client):
    """An organization with one tag, for the automation tests."""
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    tag = (await client.post(f"{API}/tags", headers=head, json={"name": "lead"})).json()
    return {"head": head, "tokens": tokens, "tag": tag["id"],
            "orgId": tokens["user"]["organizationId"], "userId": tokens["user"]["id"]}


@pytest.fixture
async def automation_inbox(client, automation_org, wa, worker):
    """automation_org with a connected simulator session and a running worker."""
    await wa()
    sid, _ = await connected_session(client, automation_org["head"])
    return {**automation_org, "sid": sid}


@pytest.fixture
async def conversation_inbox(client, wa, server):
    """An organization with a connected session and two customer conversations."""
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    await wa()
    sid, _ = await connected_session(client, head)
    await simulate(client, head, sid, "message", phone=CARLA, body="Where is my parcel?",
                   id="W1", name="Carla Customer")
    await simulate(client, head, sid, "message", phone=DAN, body="Do you ship to Lyon?",
                   id="W2", name="Dan Buyer")

    async def both():
        r = await client.get(f"{API}/conversations", headers=head)
        return len(r.json()["items"]) == 2 and r.json()["items"]

    items = await until(both)
    by_phone = {i["contact"]["phone"]: i for i in items}
    return {"head": head, "tokens": tokens, "org": tokens["user"]["organizationId"],
            "sid": sid, "carla": by_phone[CARLA], "dan": by_phone[DAN], "server": server}


@pytest.fixture(scope="module")
def hello_installed(tmp_path_factory):
    """pip-install plugins/wacc-hello into a folder and put it on sys.path."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(REPO / "plugins" / "wacc-hello")],
        check=True,
    )
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    importlib.invalidate_caches()
