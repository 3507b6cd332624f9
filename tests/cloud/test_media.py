"""Inbound media of the Cloud API is fetched after the webhook is answered, by a job:
stored once it arrives, retried three times when the media host refuses, then shown as
"media unavailable" — and a refusal from the media host never disconnects the session."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.cloud.wired import cloud_session, signed, until
from tests.fakes.graph_api import FakeGraphAPI, inbound, webhook_body
from tests.helpers import API, PASSWORD, bearer, register
from tests.ui_support import ui_login
from wacc.messages import media_jobs
from wacc.messages.tables import Message
from wacc.sessions.rpc import rpc_of
from wacc.sessions.tables import WhatsAppSession

CUSTOMER = "16505551234"
IMAGE = b"\xff\xd8\xff\xe0" + b"jpeg bytes" * 1000


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphAPI]:
    async with FakeGraphAPI().serve() as fake:
        yield fake


@pytest.fixture
async def line(client: Any, graph: FakeGraphAPI, wa: Any) -> tuple[dict[str, str], str]:
    owner = bearer((await register(client))["accessToken"])
    await wa()
    return owner, await cloud_session(client, owner, graph)


async def _post_image(client: Any, graph: FakeGraphAPI, sid: str, media_id: str, wamid: str) -> None:
    body = json.loads(webhook_body(messages=[inbound(
        "image", {"mime_type": "image/jpeg", "sha256": "abc", "id": media_id, "caption": "this one"},
        sender=CUSTOMER, message_id=wamid)], profiles={CUSTOMER: "Dana"},
        phone_number_id=graph.phone_number_id))
    raw, headers = signed(body)
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/webhook", content=raw, headers=headers)
    assert r.status_code == 200, r.text


async def _row(wamid: str) -> dict[str, Any]:
    row = await Message.select().where(
        Message.whatsapp_message_id == wamid).output(load_json=True).first()
    assert row is not None
    return dict(row)


async def test_the_webhook_answers_without_downloading_then_the_job_stores_the_file(
        client: Any, server: Any, line: Any, graph: FakeGraphAPI) -> None:
    _, sid = line
    runtime = server.app.state["runtime"]
    runtime.jobs.huey.flush()
    media_id = graph.add_media(IMAGE, "image/jpeg")
    graph.requests.clear()
    await _post_image(client, graph, sid, media_id, "wamid.IMG1")
    # No worker runs here: had the webhook fetched the file itself, Meta would have
    # been asked for the media URL during the request.
    assert not any(media_id in r.path for r in graph.requests) and graph.media_requests == []
    row = await _row("wamid.IMG1")
    assert (row["type"], row["body"], row["media_url"]) == ("IMAGE", "this one", None)
    assert row["metadata"]["media"]["pending"]["fetch"] == media_id
    # Durable: recorded with the message (the outbox), then moved to the job queue.
    async def queued():
        return [t.args for t in runtime.jobs.huey.pending() if t.name == media_jobs.FETCH_MEDIA_JOB]

    assert await until(queued) == [(row["id"],)]

    outcome = await media_jobs.fetch_media(rpc_of(runtime), runtime.bus, runtime.media, row["id"])
    assert outcome.state == "stored"
    row = await _row("wamid.IMG1")
    assert row["media_url"] and "pending" not in row["metadata"]["media"]
    (download,) = graph.media_requests
    assert download.headers["authorization"].startswith("Bearer ")
    again = await media_jobs.fetch_media(rpc_of(runtime), runtime.bus, runtime.media, row["id"])
    assert again.state == "skipped"  # a duplicate job changes nothing


async def test_the_worker_fetches_the_file(client: Any, server: Any, line: Any, graph: FakeGraphAPI,
                                           worker: Any) -> None:
    owner, sid = line
    media_id = graph.add_media(IMAGE, "image/jpeg")
    await _post_image(client, graph, sid, media_id, "wamid.IMG2")

    async def stored() -> Any:
        m = (await client.get(f"{API}/messages/{(await _row('wamid.IMG2'))['id']}", headers=owner)).json()
        return m["mediaUrl"] and m

    message = await until(stored)
    assert await server.app.state["runtime"].media.get(message["mediaUrl"]) == IMAGE


async def test_a_refusing_media_host_costs_that_file_only(
        client: Any, server: Any, line: Any, graph: FakeGraphAPI) -> None:
    owner, sid = line
    runtime = server.app.state["runtime"]
    media_id = graph.add_media(IMAGE, "image/jpeg")
    await _post_image(client, graph, sid, media_id, "wamid.IMG3")
    message_id = (await _row("wamid.IMG3"))["id"]
    graph.fail_next(4, status=401, path="media-host:")  # the media host answers 401, four times
    delays = []
    for attempt in range(media_jobs.RETRIES):
        outcome = await media_jobs.fetch_media(rpc_of(runtime), runtime.bus, runtime.media, message_id,
                                               attempt=attempt)
        assert outcome.state == "retry" and "401" in (outcome.error or ""), outcome
        delays.append(outcome.delay)
        assert "pending" in (await _row("wamid.IMG3"))["metadata"]["media"]
    assert delays == sorted(delays) and delays[0] < delays[-1]  # backoff
    last = await media_jobs.fetch_media(rpc_of(runtime), runtime.bus, runtime.media, message_id,
                                        attempt=media_jobs.RETRIES)
    assert last.state == "unavailable"
    media = (await _row("wamid.IMG3"))["metadata"]["media"]
    assert media["unavailable"] is True and "401" in media["error"] and "pending" not in media
    shown = (await client.get(f"{API}/messages/{message_id}", headers=owner)).json()
    assert shown["mediaUrl"] is None and shown["metadata"]["media"]["unavailable"] is True

    # The session is untouched: still connected, and the next file arrives.
    session = await WhatsAppSession.select().where(WhatsAppSession.id == sid).first()
    assert session["status"] == "CONNECTED"
    await _post_image(client, graph, sid, graph.add_media(IMAGE, "image/jpeg"), "wamid.IMG4")
    await ui_login(client, "owner@example.com", PASSWORD)  # the inbox says which is which
    page = (await client.get(f"/inbox/{shown['conversationId']}")).text
    assert "Image not available: Meta&#39;s media host error 401" in page
    assert page.count("Image arriving…") == 1
    fine = await media_jobs.fetch_media(rpc_of(runtime), runtime.bus, runtime.media,
                                        (await _row("wamid.IMG4"))["id"])
    assert fine.state == "stored"
