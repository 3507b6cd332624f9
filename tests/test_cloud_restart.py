"""The Cloud API's 24-hour reply window survives a restart of `wacc run` (a real process
tree, embedded: SQLite and the SQLite queue; PostgreSQL + Redis too when
WACC_TEST_DATABASE_URL and WACC_TEST_REDIS_URL are set).

A customer writes (a signed webhook POST, as Meta sends it), wacc is stopped and started
again, and the agent's reply goes out over a brand-new engine: SENT, not WINDOW_CLOSED.
A customer whose stored message is 25 hours old is refused by wacc itself, without
asking Meta: the window is derived from the stored messages, not guessed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.graph_api import PHONE_NUMBER_ID, TOKEN, FakeGraphAPI, inbound
from tests.support.env import PG_URL, REDIS_URL, create_pg_database, drop_pg_database, free_port
from wacc.security.crypto import encode_key, new_key

pytestmark = pytest.mark.slow

API = "/api/v1"
APP_SECRET = "app-secret-restart"
CUSTOMER, OLD_CUSTOMER = "16505551234", "16505559876"


def _env(data: Path, port: int, database_url: str, scaled: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WACC_")}
    env.update(WACC_DATA_DIR=str(data), WACC_LOG_FORMAT="json", WACC_BASE_URL="http://wacc.test",
               WACC_HTTP_PORT=str(port), WACC_WORKER_HEARTBEAT_SECONDS="1",
               WACC_RESTART_MAX_SECONDS="2", WACC_STOP_SECONDS="15", WACC_WORKER_THREADS="2",
               # The fake Graph API listens on loopback, which a session's base_url may
               # only name when the operator allows internal addresses.
               WACC_WA_ALLOW_PRIVATE_URLS="true")
    if scaled:
        env.update(WACC_DATABASE_URL=database_url, WACC_REDIS_URL=REDIS_URL,
                   WACC_SECRET_KEY=encode_key(new_key()))
    return env


@contextlib.contextmanager
def _wacc_run(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("a") as out:
        process = subprocess.Popen([sys.executable, "-m", "wacc.cli.main", "run"], env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:  # a failed test: take the whole tree down
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def _eventually(check: Callable[[], Any], what: str, log: Path, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; log:\n{log.read_text()[-4000:]}")
        await asyncio.sleep(0.3)


def _backends() -> list[str]:
    return ["embedded", "scaled"] if PG_URL and REDIS_URL else ["embedded"]


@pytest.fixture(params=_backends())
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, bool]]:
    scaled = request.param == "scaled"
    url = await create_pg_database() if scaled else ""
    yield url, scaled
    if scaled:
        await drop_pg_database(url)


async def test_the_reply_window_survives_a_restart(tmp_path: Path, backend: tuple[str, bool]) -> None:
    database_url, scaled = backend
    env = _env(tmp_path / "data", free_port(), database_url, scaled)
    base = f"http://127.0.0.1:{env['WACC_HTTP_PORT']}"
    log = tmp_path / "wacc.log"
    graph = FakeGraphAPI()
    async with graph.serve(), httpx.AsyncClient(base_url=base, timeout=10) as http:

        async def ready() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return (await http.get("/health/ready")).status_code == 200
            return False

        async def connected() -> bool:
            r = await http.get(f"{API}/whatsapp/sessions/{sid}", headers=owner)
            return r.status_code == 200 and r.json()["status"] == "CONNECTED"

        with _wacc_run(env, log) as first:
            await _eventually(ready, "wacc to be ready", log)
            r = await http.post(f"{API}/auth/register", json={
                "organizationName": "Acme", "name": "Olivia Owner", "email": "owner@example.com",
                "password": "correct horse battery"})
            assert r.status_code == 201, r.text
            owner = {"Authorization": f"Bearer {r.json()['accessToken']}"}
            r = await http.post(f"{API}/whatsapp/sessions", headers=owner, json={
                "name": "Cloud line", "engine": "cloud",
                "settings": {"base_url": graph.url, "phone_number_id": PHONE_NUMBER_ID},
                "credentials": {"access_token": TOKEN, "app_secret": APP_SECRET,
                                "verify_token": "verify-me"}})
            assert r.status_code == 201, r.text
            sid = r.json()["id"]
            await _eventually(connected, "the cloud session to connect", log)
            # Ten minutes ago one customer wrote; another wrote 25 hours ago.
            now = time.time()
            body, headers = graph.signed_webhook(APP_SECRET, messages=[
                inbound("text", {"body": "Is my order ready?"}, sender=CUSTOMER,
                        message_id="wamid.RECENT", timestamp=now - 600),
                inbound("text", {"body": "Thanks!"}, sender=OLD_CUSTOMER,
                        message_id="wamid.OLD", timestamp=now - 25 * 3600)])
            r = await http.post(f"{API}/whatsapp/sessions/{sid}/webhook", content=body, headers=headers)
            assert r.status_code == 200, r.text

            async def threads() -> dict[str, str] | None:
                r = await http.get(f"{API}/conversations", headers=owner)
                items = r.json().get("items", []) if r.status_code == 200 else []
                found = {c["contact"]["phone"].lstrip("+"): c["id"] for c in items}
                return found if {CUSTOMER, OLD_CUSTOMER} <= set(found) else None

            conversations = await _eventually(threads, "both customers' conversations", log)
            first.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(first.wait, 30) == 0

        graph.requests.clear()
        with _wacc_run(env, log):
            await _eventually(ready, "wacc to be ready again", log)
            await _eventually(connected, "the session to connect again (a new engine)", log)
            replies = {}
            for customer, text in ((CUSTOMER, "Yes, it ships today."), (OLD_CUSTOMER, "Hello again")):
                r = await http.post(f"{API}/conversations/{conversations[customer]}/messages",
                                    headers=owner, json={"body": text})
                assert r.status_code == 201, r.text
                replies[customer] = r.json()["id"]

            async def settled() -> dict[str, Any] | None:
                out = {}
                for customer, mid in replies.items():
                    m = (await http.get(f"{API}/messages/{mid}", headers=owner)).json()
                    if m.get("status") not in ("SENT", "DELIVERED", "FAILED"):
                        return None
                    out[customer] = m
                return out

            done = await _eventually(settled, "both replies to be sent or refused", log)
    assert done[CUSTOMER]["status"] == "SENT", done[CUSTOMER]
    assert [b["text"]["body"] for b in graph.accepted] == ["Yes, it ships today."]
    assert done[OLD_CUSTOMER]["status"] == "FAILED"
    assert "24-hour" in done[OLD_CUSTOMER]["error"]
    # Refused by wacc from the stored message's age: Meta was never asked.
    assert "Hello again" not in [b.get("text", {}).get("body") for b in graph.sent()]
