"""Redis away (issue 14 item 2): a web process whose Redis does not answer still signs
people in, keeps their WebSockets open, tells them who comes online and lists presence,
from what it holds itself; nothing answers 500. Served by uvicorn over real HTTP and
WebSockets, with WACC_REDIS_URL at a port nobody listens on."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from tests.helpers import API, add_member, bearer, register
from tests.support.env import free_port
from tests.support.serving import serve_app


@contextlib.asynccontextmanager
async def redis_away(data_dir: Path, database_url: str) -> AsyncIterator[str]:
    """The app on the suite's database with its Redis at a closed port; yields its URL."""
    async with serve_app(data_dir, database_url,
                         WACC_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0") as (url, _):
        yield url


async def signed_in_socket(url: str, token: str) -> Any:
    socket = await connect(url.replace("http://", "ws://") + f"{API}/ws")
    await socket.send(json.dumps({"type": "authenticate", "token": token, "ref": "a1"}))
    return socket


async def next_event(socket: Any, kind: str, **match: Any) -> dict[str, Any]:
    async with asyncio.timeout(10):  # a missed event fails the test, never hangs it
        while True:
            event = json.loads(await socket.recv())
            if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event


async def test_sockets_stay_open_and_live_while_redis_is_away(client, data_dir, database_url):
    async with redis_away(data_dir, database_url) as url, \
            httpx.AsyncClient(base_url=url, timeout=30) as away:
        owner = await register(away)  # sign-up and sign-in work
        org = owner["user"]["organizationId"]
        agent = await add_member(away, owner["accessToken"], org, "AGENT")
        first = await signed_in_socket(url, owner["accessToken"])
        await next_event(first, "authenticated")
        second = await signed_in_socket(url, agent["accessToken"])
        await next_event(second, "authenticated")
        # The agent coming online reaches the owner's socket through this process.
        seen = await next_event(first, "presence:update", userId=agent["user"]["id"])
        assert seen["status"] == "online"
        r = await away.get(f"{API}/presence", headers=bearer(owner["accessToken"]))
        assert r.status_code == 200, r.text
        assert set(r.json()["online"]) == {owner["user"]["id"], agent["user"]["id"]}
        r = await away.get(f"{API}/conversations", headers=bearer(agent["accessToken"]))
        assert r.status_code == 200, r.text
        await second.close()
        gone = await next_event(first, "presence:update", userId=agent["user"]["id"])
        assert gone["status"] == "offline"
        await first.close()


async def test_metrics_show_which_parts_run_on_their_fallback(client, data_dir, database_url):
    """Beside each "Redis away" log line, a figure a scraper can alert on (GET /metrics,
    Prometheus text, behind WACC_METRICS_TOKEN)."""
    async with serve_app(data_dir, database_url, WACC_METRICS_TOKEN="scrape-me",
                         WACC_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0") as (url, _), \
            httpx.AsyncClient(base_url=url, timeout=30) as away:
        assert (await away.get("/metrics")).status_code == 404  # no token: no such page
        assert (await away.get("/metrics", headers=bearer("wrong"))).status_code == 404
        owner = await register(away)  # the sign-up's rate limit falls back
        socket = await signed_in_socket(url, owner["accessToken"])
        await next_event(socket, "authenticated")  # presence falls back
        r = await away.get("/metrics", headers=bearer("scrape-me"))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        figures = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                   for line in r.text.splitlines() if line and not line.startswith("#")}
        assert figures['wacc_redis_fallback{part="rate_limits"}'] == 1
        assert figures['wacc_redis_fallback{part="presence"}'] == 1
        assert "wacc_outbox_waiting" in figures and "wacc_outbox_oldest_seconds" in figures
        await socket.close()
    # The suite's own server (Redis reachable, or none configured) falls back on nothing.
    r = await client.get("/metrics")
    assert r.status_code == 404
