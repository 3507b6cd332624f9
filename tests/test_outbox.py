"""The transactional outbox (issue 14): work that must follow a write (a send, the
events automations run on) is recorded with the write and reaches the job queue when
the queue is reachable. While the queue is away, requests still succeed, nothing is
sent or run, and once it is back every send happens exactly once and every inbound
message runs its automation once.

The queue is made unreachable as an outage does it: the web process's queue client
is pointed at a closed port (on both backends: Huey's Redis storage at a port nobody
listens on), then given its own storage back. The worker keeps reading the real queue.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from huey.storage import RedisStorage

from tests.helpers import API, PASSWORD, assert_error, bearer, register
from tests.support.automations import PHONE, create, keyword_automation, say
from tests.support.env import free_port
from tests.support.polling import until
from tests.support.whatsapp import connected_session, simulate
from wacc import outbox
from wacc.messages.services import SEND_JOB
from wacc.outbox.tables import Outbox

CUSTOMER = "+14155550123"


@contextlib.contextmanager
def queue_away(server: Any) -> Iterator[None]:
    """The web process's job queue refuses every job (connection refused) until the
    block ends; then its own storage is back, as when Redis returns."""
    huey = server.app.state["runtime"].jobs.huey
    own = huey.storage
    huey.storage = RedisStorage("wacc", url=f"redis://127.0.0.1:{free_port()}/0")
    try:
        yield
    finally:
        huey.storage = own


async def _thread(client, head, wa):
    await wa()
    sid, _ = await connected_session(client, head)
    await simulate(client, head, sid, "message", phone=CUSTOMER, body="Hi", id="IN1")

    async def conversation():
        r = await client.get(f"{API}/conversations", headers=head)
        return r.json()["items"] and r.json()["items"][0]["id"]

    return sid, await until(conversation)


async def _delivered(client, head, sid) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/whatsapp/sessions/{sid}/simulator/outbox", headers=head,
                         params={"to": CUSTOMER})
    assert r.status_code == 200, r.text
    return r.json()


async def _status(client, head, mid) -> str:
    return (await client.get(f"{API}/messages/{mid}", headers=head)).json()["status"]


async def _healthy(dispatcher: Any) -> bool:
    return not dispatcher.outage


async def _failed_attempt(subject: str) -> dict[str, Any] | bool:
    row = await Outbox.select().where(Outbox.subject == subject).first()
    return bool(row and row["attempts"] >= 1 and row["dispatched_at"] is None) and row


async def test_a_message_sent_while_the_queue_is_away_is_sent_once_when_it_returns(
        client, wa, worker, server):
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    sid, cid = await _thread(client, head, wa)
    body = {"body": "Your parcel left today", "idempotencyKey": "drill-1"}
    dispatcher = server.app.state["outbox"]
    await until(lambda: _healthy(dispatcher), timeout=45)  # past any start-up backoff
    with queue_away(server):
        r = await client.post(f"{API}/conversations/{cid}/messages", headers=head, json=body)
        assert r.status_code == 201, r.text
        mid = r.json()["id"]
        assert r.json()["status"] == "PENDING"
        # The dispatcher tried, was refused, and keeps the job for later.
        row = await until(lambda: _failed_attempt(mid), timeout=45)
        assert row["job"] == SEND_JOB and row["args"] and "Connection" in row["last_error"]

        async def outage() -> bool:  # set by the same pass, just after the row
            return bool(dispatcher.outage)

        await until(outage)
        # /health/ready shows the backlog (delayed work is not a failure).
        ready = (await client.get("/health/ready")).json()["checks"]["outbox"]
        assert ready["ok"] is True and re.fullmatch(r"[1-9]\d* waiting, oldest \d+s", ready["detail"])
        # A client retrying with its key gets the same message and no second job.
        r = await client.post(f"{API}/conversations/{cid}/messages", headers=head, json=body)
        assert r.status_code == 200, r.text
        assert r.json()["id"] == mid and r.json()["status"] == "PENDING"
        assert await Outbox.count().where(Outbox.subject == mid) == 1
        assert await _status(client, head, mid) == "PENDING"
        assert [m for m in await _delivered(client, head, sid)
                if m.get("body") == body["body"]] == []

    async def sent():
        return await _status(client, head, mid) in ("SENT", "DELIVERED")

    await until(sent, timeout=45)
    assert dispatcher.outage is False
    mine = [m for m in await _delivered(client, head, sid) if m.get("body") == body["body"]]
    assert len(mine) == 1
    row = await Outbox.select().where(Outbox.subject == mid).first()
    assert row["dispatched_at"] is not None

    # The send job is idempotent: handed to the queue again, nothing is sent again.
    before = len(worker.done)
    await outbox.add(SEND_JOB, mid, subject=mid)

    async def skipped():
        return "skipped" in worker.done[before:]

    await until(skipped, timeout=20)
    r = await client.post(f"{API}/conversations/{cid}/messages", headers=head, json=body)
    assert r.status_code == 200 and r.json()["status"] in ("SENT", "DELIVERED")
    assert await Outbox.count().where(Outbox.subject == mid) == 2  # no job for a sent one
    mine = [m for m in await _delivered(client, head, sid) if m.get("body") == body["body"]]
    assert len(mine) == 1


async def test_retrying_a_pending_send_with_no_job_sends_it_exactly_once(client, wa, worker,
                                                                         server):
    """A message left PENDING with no send recorded (written before the outbox existed,
    or its job lost with a queue that forgot it): retrying the request sends it once."""
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    sid, cid = await _thread(client, head, wa)
    body = {"body": "Invoice attached soon", "idempotencyKey": "lost-1"}
    with queue_away(server):
        r = await client.post(f"{API}/conversations/{cid}/messages", headers=head, json=body)
        assert r.status_code == 201, r.text
        mid = r.json()["id"]
        await until(lambda: _failed_attempt(mid), timeout=45)
        await Outbox.delete().where(Outbox.subject == mid)  # the job is gone
    for _ in range(3):  # the client retries a few times
        r = await client.post(f"{API}/conversations/{cid}/messages", headers=head, json=body)
        assert r.status_code == 200, r.text
        assert r.json()["id"] == mid

    async def sent():
        return await _status(client, head, mid) in ("SENT", "DELIVERED")

    await until(sent, timeout=45)
    mine = [m for m in await _delivered(client, head, sid) if m.get("body") == body["body"]]
    assert len(mine) == 1


async def test_an_inbound_message_runs_its_automation_once_the_queue_returns(
        client, automation_inbox, server):
    box = automation_inbox
    head = box["head"]
    made = await create(client, head, keyword_automation(box["tag"]))
    aid = made["id"]

    async def runs():
        r = await client.get(f"{API}/automations/{aid}/executions", headers=head)
        return r.json()["items"]

    with queue_away(server):
        await say(client, box, "What is the price?")

        async def stored():
            r = await client.get(f"{API}/conversations", headers=head)
            return r.json()["items"]

        await until(stored)
        await until(_event_waits, timeout=45)
        assert await runs() == []

    async def completed():
        items = await runs()
        return items and items[0]["status"] == "COMPLETED" and items

    items = await until(completed, timeout=45)
    assert len(items) == 1

    async def replies():  # the run queued its reply; the send job delivers it
        r = await client.get(f"{API}/whatsapp/sessions/{box['sid']}/simulator/outbox",
                             headers=head, params={"to": PHONE})
        return [m for m in r.json() if "prices" in (m.get("body") or "")]

    await until(replies, timeout=45)
    assert len(await replies()) == 1  # the automation's reply was sent once
    assert len(await runs()) == 1


async def _event_waits() -> bool:
    return await Outbox.exists().where(
        (Outbox.job == "events.dispatch") & Outbox.dispatched_at.is_null() & (Outbox.attempts >= 1))


async def test_events_commit_with_their_write_or_not_at_all(client):
    """An event is recorded in its write's transaction: a write that is refused
    leaves no event behind."""
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    r = await client.post(f"{API}/contacts", headers=head,
                          json={"phoneNumber": "+14155550188", "name": "Ann"})
    assert r.status_code == 201, r.text
    contact = r.json()["id"]

    async def recorded():
        rows = await Outbox.select(Outbox.args).where(Outbox.job == "events.dispatch").output(
            load_json=True)
        return [e for row in rows for e in row["args"][0]
                if e["kind"] == "contact.created" and e.get("contactId") == contact]

    assert len(await until(recorded)) == 1
    r = await client.post(f"{API}/contacts", headers=head,
                          json={"phoneNumber": "+14155550188", "name": "Ann again"})
    assert_error(r, 409, "CONFLICT")
    assert len(await recorded()) == 1


async def test_sign_in_works_while_redis_is_away(client, make_client):
    """Login throttles fall back to counts in the process when Redis does not answer:
    signing in works, and a password guesser is still stopped."""
    await register(client)
    away = await make_client({"WACC_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    email = "owner@example.com"
    r = await away.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["accessToken"]
    # The API's own rate limit counts in the process too: answered, not a 500.
    me = await away.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {r.json()['accessToken']}"})
    assert me.status_code == 200, me.text
    assert me.headers.get("x-ratelimit-limit"), me.headers
    for _ in range(5):
        r = await away.post(f"{API}/auth/login", json={"email": email, "password": "wrong guess!"})
        assert_error(r, 401, "AUTHENTICATION_ERROR")
    r = await away.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    assert_error(r, 429, "RATE_LIMIT_EXCEEDED")


async def _handed_over(subject: str) -> dict[str, Any] | bool:
    row = await Outbox.select().where(Outbox.subject == subject).first()
    return bool(row and row["dispatched_at"] and row["epoch"]) and row


async def test_jobs_a_queue_lost_are_handed_over_again_and_finished_ones_are_not(server):
    """A Redis restarted without its data is a new queue (a new epoch); a job handed to
    the old one that never ran is handed over again, once. (Flushing the queue here is
    the same loss, on both backends.)"""
    dispatcher = server.app.state["outbox"]
    huey = dispatcher.jobs.huey
    await until(lambda: _healthy(dispatcher), timeout=45)
    huey.flush()  # what earlier tests left (no worker runs here)
    await dispatcher.check_epoch(force=True)
    await outbox.add("system.prune_heartbeats", subject="lost-job")
    first = await until(lambda: _handed_over("lost-job"), timeout=20)
    assert huey.pending_count() == 1 and first["done_at"] is None
    assert await dispatcher.check_epoch(force=True) == 0  # same queue: nothing to do

    huey.flush()  # the queue forgets everything
    assert await dispatcher.check_epoch(force=True) >= 1
    assert await dispatcher.check_epoch(force=True) == 0  # once, not on every check

    async def again() -> dict[str, Any] | bool:
        row = await _handed_over("lost-job")
        return row and row["epoch"] != first["epoch"] and row

    await until(again, timeout=20)
    assert huey.pending_count() == 1
    huey.flush()


async def test_a_job_the_worker_finished_is_marked_done_and_never_handed_over_again(
        server, worker):
    dispatcher = server.app.state["outbox"]
    await until(lambda: _healthy(dispatcher), timeout=45)
    before = len(worker.done)
    await outbox.add("system.prune_heartbeats", subject="finished-job")

    async def done() -> dict[str, Any] | bool:
        row = await Outbox.select().where(Outbox.subject == "finished-job").first()
        return bool(row and row["done_at"]) and row

    row = await until(done, timeout=20)
    assert len(worker.done) == before + 1
    dispatcher.jobs.huey.flush()
    await dispatcher.check_epoch(force=True)  # a new queue: unfinished rows go again
    after = await Outbox.select().where(Outbox.subject == "finished-job").first()
    assert after["dispatched_at"] == row["dispatched_at"] and after["epoch"] == row["epoch"]
