"""How fast wacc answers Meta's webhook when the messages carry media, beside /health.

    python bench/cloud_webhook.py                 # 300 webhooks, 1 MB images, SQLite
    python bench/cloud_webhook.py --requests 50   # a quick look
    python bench/cloud_webhook.py --database-url postgresql://postgres@127.0.0.1:5432/postgres \\
        --redis-url redis://127.0.0.1:6379/11

Starts `wacc run` (all four roles) on a throwaway SQLite directory or PostgreSQL
database, and the fake Graph API (tests/fakes/graph_api.py) in this process as Meta:
a cloud session connects to it. Then, one request at a time (Meta sends a number's
webhooks one after another), it POSTs signed webhooks each carrying a customer's image
(its file registered on the fake's media host, --media-kb large) and times each answer;
/health is timed between them, in the same run, as the baseline. The answer must not
wait for the file: the pipeline stores the message and the messages.fetch_media job
downloads it afterwards, so the script also reports how long until every file was
stored. Prints p50/p99; decides nothing (record results in docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import API, Server, auth, drop_pg, fresh_pg, ok, pct

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fakes.graph_api import TOKEN, FakeGraphAPI, inbound, signature, webhook_body

SECRET = "bench-app-secret"  # noqa: S105
CUSTOMER = "16505551234"


async def _cloud_session(client: httpx.AsyncClient, token: str, graph: FakeGraphAPI) -> str:
    sid = str((await ok(await client.post(f"{API}/whatsapp/sessions", headers=auth(token), json={
        "name": "Cloud bench", "engine": "cloud",
        "settings": {"base_url": graph.url, "phone_number_id": graph.phone_number_id},
        "credentials": {"access_token": TOKEN, "app_secret": SECRET, "verify_token": "v"},
    }), 201))["id"])
    for _ in range(600):
        s = (await client.get(f"{API}/whatsapp/sessions/{sid}", headers=auth(token))).json()
        if s["status"] == "CONNECTED":
            return sid
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the cloud session did not connect: {s}")


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="wacc-bench-cloud-"))
    admin_url = args.database_url
    url = await fresh_pg(admin_url) if admin_url else f"sqlite:///{tmp / 'wacc.db'}"
    # WACC_WA_ALLOW_PRIVATE_URLS: the fake Graph API listens on loopback, which a
    # session's base_url may only name when internal addresses are allowed.
    env = {**os.environ, "WACC_DATA_DIR": str(tmp), "WACC_DATABASE_URL": url,
           "WACC_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
           "WACC_WA_ALLOW_PRIVATE_URLS": "true"}
    if args.redis_url:
        env["WACC_REDIS_URL"] = args.redis_url
    server = Server(env, tmp / "wacc.log")
    try:
        async with FakeGraphAPI().serve() as graph:
            await server.start()
            async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:
                owner = await ok(await client.post(f"{API}/auth/register", json={
                    "organizationName": "Bench", "name": "Olivia Owner", "email": "owner@bench.test",
                    "password": "bench horse battery"}), 201)
                sid = await _cloud_session(client, owner["accessToken"], graph)
                image = os.urandom(args.media_kb * 1024)
                hook = f"{API}/whatsapp/sessions/{sid}/webhook"
                answers: list[float] = []
                health: list[float] = []
                for i in range(args.requests + 5):
                    media_id = graph.add_media(image, "image/jpeg")
                    body = webhook_body(messages=[inbound(
                        "image", {"mime_type": "image/jpeg", "sha256": "x", "id": media_id},
                        sender=CUSTOMER, message_id=f"wamid.bench{i}")],
                        profiles={CUSTOMER: "Bench customer"},
                        phone_number_id=graph.phone_number_id)
                    headers = {"Content-Type": "application/json",
                               "X-Hub-Signature-256": signature(body, SECRET)}
                    start = time.perf_counter()
                    r = await client.post(hook, content=body, headers=headers)
                    took = time.perf_counter() - start
                    if r.status_code != 200:
                        raise RuntimeError(f"webhook answered {r.status_code}: {r.text[:300]}")
                    start = time.perf_counter()
                    await client.get("/health")
                    took_health = time.perf_counter() - start
                    if i >= 5:  # warm-up
                        answers.append(took)
                        health.append(took_health)
                sent_at = time.perf_counter()
                stored = await _wait_for_media(client, owner["accessToken"], args.requests + 5)
                fetched_in = time.perf_counter() - sent_at
    finally:
        server.stop()
        if admin_url:
            await drop_pg(admin_url, url)
    kind = "PostgreSQL" if admin_url else "SQLite"
    print(f"cloud webhook benchmark — {kind}, {args.requests} webhooks one at a time, "
          f"an image of {args.media_kb} KB in each")
    print(f"  /health (baseline)  : p50 {pct(health, 50):6.1f} ms, p99 {pct(health, 99):6.1f} ms")
    print(f"  webhook answer      : p50 {pct(answers, 50):6.1f} ms, p99 {pct(answers, 99):6.1f} ms")
    print(f"  files stored by the fetch job: {stored} of {args.requests + 5}, "
          f"{fetched_in:.1f} s after the last answer")


async def _wait_for_media(client: httpx.AsyncClient, token: str, expected: int) -> int:
    """Messages whose file the job has stored (polled through the API)."""
    count = 0
    for _ in range(600):
        convs = (await client.get(f"{API}/conversations", headers=auth(token))).json()["items"]
        count = 0
        for conv in convs:
            cursor: str | None = None
            while True:
                params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
                page = (await client.get(f"{API}/conversations/{conv['id']}/messages",
                                         headers=auth(token), params=params)).json()
                count += sum(1 for m in page["items"] if m.get("mediaUrl"))
                cursor = page.get("nextCursor")
                if not cursor:
                    break
        if count >= expected:
            break
        await asyncio.sleep(0.5)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--media-kb", type=int, default=1024)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
