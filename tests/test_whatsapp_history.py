"""History on connect through the simulator engine over the real API (issue 11 item 7):
the first import of the last N days, idempotent re-runs, progress, resuming a read cut
short, and the back-fill of what arrived while a session was down."""

from __future__ import annotations

import time

import pytest

from tests.helpers import API, PASSWORD, assert_error, bearer, register, register_other_org
from tests.simulator_support import (
    connected_session,
    new_session,
    session_in,
    set_org_settings,
    simulate,
    until,
)
from tests.ui_support import ui_login
from wacc.contacts.tables import Contact
from wacc.messages.tables import Message
from wacc.sessions.rpc import rpc_of
from wacc.sessions.tables import HistoryImport

ANA, BEN, CAL, DEV = "+14155550101", "+14155550102", "+14155550103", "+14155550104"
DAY = 86400.0


@pytest.fixture
async def owner(client):
    tokens = await register(client)
    return bearer(tokens["accessToken"])


async def history_of(client, head, sid):
    r = await client.get(f"{API}/whatsapp/sessions/{sid}/history", headers=head)
    assert r.status_code == 200, r.text
    return r.json()


async def finished(client, head, sid, count=1):
    """The newest read once ``count`` reads exist and all of them ended."""
    async def done():
        reads = await history_of(client, head, sid)
        return len(reads) >= count and all(r["status"] in ("DONE", "FAILED") for r in reads) \
            and reads
    reads = await until(done, timeout=20)
    return reads[0]


async def seed_phone(client, head, sid):
    """What the phone holds before it is linked (the linked device never saw it)."""
    now = time.time()
    sim = {"offline": True}
    await simulate(client, head, sid, "message", phone=ANA, name="Ana", body="two days ago",
                   id="H-A1", timestamp=now - 2 * DAY, **sim)
    await simulate(client, head, sid, "message", phone=ANA, name="Ana", body="yesterday",
                   id="H-A2", timestamp=now - DAY, **sim)
    await simulate(client, head, sid, "message", phone=ANA, body="our answer", from_me=True,
                   id="H-A3", timestamp=now - DAY + 60, **sim)
    await simulate(client, head, sid, "message", phone=BEN, name="Ben", body="an hour ago",
                   id="H-B1", timestamp=now - 3600, **sim)
    # Outside the window, a group and a status update: never imported.
    await simulate(client, head, sid, "message", phone=CAL, body="ten days ago",
                   id="H-C1", timestamp=now - 10 * DAY, **sim)
    await simulate(client, head, sid, "message", phone=DEV, name="Dev", group="120363041234567890",
                   subject="Team", body="group chat", id="H-G1", timestamp=now - 3600, **sim)
    await simulate(client, head, sid, "message", phone=DEV, chat="status@broadcast",
                   body="my status", id="H-S1", timestamp=now - 3600, **sim)


IMPORTED = {"H-A1", "H-A2", "H-A3", "H-B1"}


async def stored_ids(sid):
    rows = await Message.select(Message.whatsapp_message_id).where(Message.session == sid)
    return sorted(r["whatsapp_message_id"] for r in rows)


async def test_first_link_imports_the_last_days_once_with_progress(client, owner, wa, worker):
    await wa()
    await set_org_settings(client, owner, ignoreGroups=False)  # groups stay out of history
    sid = await new_session(client, owner, settings={"history_days": 3})
    await seed_phone(client, owner, sid)
    assert await stored_ids(sid) == []  # the phone has them; wacc not yet
    await simulate(client, owner, sid, "scan")
    first = await finished(client, owner, sid)
    assert first["kind"] == "import" and first["status"] == "DONE", first
    assert (first["chatsTotal"], first["chatsDone"]) == (2, 2)
    assert (first["messagesSeen"], first["messagesStored"]) == (4, 4)
    assert await stored_ids(sid) == sorted(IMPORTED)
    ours = await Message.select().where(Message.whatsapp_message_id == "H-A3").first()
    assert ours["direction"] == "OUTBOUND"
    assert (await Contact.select(Contact.name).where(Contact.phone_number == ANA).first())[
        "name"] == "Ana"
    # Run again on request: every message is seen, none stored twice.
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/history", headers=owner,
                          json={"days": 3})
    assert r.status_code == 202, r.text
    again = await finished(client, owner, sid, count=2)
    assert again["id"] == r.json()["id"] and again["status"] == "DONE"
    assert (again["messagesSeen"], again["messagesStored"]) == (4, 0)
    assert await stored_ids(sid) == sorted(IMPORTED)
    assert await Message.count().where(Message.session == sid) == 4

    # The session's page shows the reads and offers another import.
    await ui_login(client, "owner@example.com", PASSWORD)
    detail = (await client.get(f"/sessions/{sid}")).text
    panel = detail[detail.index('id="history-title"'):]
    assert panel.count("2 of 2") == 2 and "4 <span class=\"muted\">of 4 read" in panel
    assert f'data-api="/api/v1/whatsapp/sessions/{sid}/history"' in panel
    new_form = (await client.get("/sessions/new")).text
    assert 'name="settings.history_days"' in new_form


async def test_history_is_off_by_default(client, owner, wa, worker):
    await wa()
    sid = await new_session(client, owner)
    await seed_phone(client, owner, sid)
    await simulate(client, owner, sid, "scan")
    await session_in(client, owner, sid, "CONNECTED")
    await simulate(client, owner, sid, "message", phone=ANA, body="live", id="LIVE-1")
    await until(lambda: Message.exists().where(Message.whatsapp_message_id == "LIVE-1"))
    assert await history_of(client, owner, sid) == []
    assert await stored_ids(sid) == ["LIVE-1"]


async def test_reconnect_back_fills_what_arrived_while_down(client, owner, wa, worker):
    await wa()
    sid = await connected_session(client, owner)
    await simulate(client, owner, sid, "message", phone=ANA, body="live", id="LIVE-1")
    await until(lambda: Message.exists().where(Message.whatsapp_message_id == "LIVE-1"))
    # The phone gets two messages this linked device misses (it was down).
    await simulate(client, owner, sid, "message", phone=ANA, body="while down", id="GAP-1",
                   offline=True)
    await simulate(client, owner, sid, "message", phone=BEN, body="me too", id="GAP-2",
                   offline=True)
    # Older than the last stored message: not part of the gap.
    await simulate(client, owner, sid, "message", phone=CAL, body="long ago", id="OLD-1",
                   timestamp=time.time() - 5 * DAY, offline=True)
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/disconnect", headers=owner)
    assert r.status_code == 200, r.text
    await session_in(client, owner, sid, "DISCONNECTED")
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/connect", headers=owner)
    assert r.status_code == 200, r.text
    await session_in(client, owner, sid, "CONNECTED")  # paired: no QR needed
    fill = await finished(client, owner, sid)
    assert fill["kind"] == "backfill" and fill["status"] == "DONE", fill
    assert fill["messagesStored"] == 2
    assert await stored_ids(sid) == ["GAP-1", "GAP-2", "LIVE-1"]  # LIVE-1 once


async def test_a_read_cut_short_resumes_when_the_session_is_ready(client, owner, wa, worker):
    await wa()
    sid = await new_session(client, owner, settings={"history_days": 3})
    await seed_phone(client, owner, sid)
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/disconnect", headers=owner)
    await session_in(client, owner, sid, "DISCONNECTED")
    # Asked for while the session is down: the read waits, then resumes.
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/history", headers=owner,
                          json={"days": 3})
    assert r.status_code == 202, r.text
    import_id = r.json()["id"]

    async def paused():
        row = await HistoryImport.select().where(HistoryImport.id == import_id).first()
        return row["status"] == "PENDING" and row["error"] and row

    await until(paused)
    # A second request while one waits is refused.
    assert_error(await client.post(f"{API}/whatsapp/sessions/{sid}/history", headers=owner,
                                   json={"days": 3}), 409, "CONFLICT")
    await client.post(f"{API}/whatsapp/sessions/{sid}/connect", headers=owner)
    await session_in(client, owner, sid, "QR_READY")
    await simulate(client, owner, sid, "scan")
    done = await finished(client, owner, sid)
    assert done["id"] == import_id and done["messagesStored"] == 4  # the same read, resumed
    assert len(await history_of(client, owner, sid)) == 1


async def test_bad_history_input(client, owner, server):
    r = await client.post(f"{API}/whatsapp/sessions", headers=owner, json={
        "name": "x", "engine": "simulator", "settings": {"history_days": 400}, "connect": False})
    assert_error(r, 400, "VALIDATION_ERROR")
    r = await client.post(f"{API}/whatsapp/sessions", headers=owner, json={
        "name": "x", "engine": "simulator", "settings": {"history_days": "3"}, "connect": False})
    assert_error(r, 400, "VALIDATION_ERROR")
    r = await client.post(f"{API}/whatsapp/sessions", headers=owner, json={
        "name": "x", "engine": "simulator", "connect": False})
    sid = r.json()["id"]
    for days in (0, 366, 2.5, None, "seven"):
        assert_error(await client.post(f"{API}/whatsapp/sessions/{sid}/history", headers=owner,
                                       json={"days": days}), 400, "VALIDATION_ERROR")
    assert_error(await client.post(f"{API}/whatsapp/sessions/nope/history", headers=owner,
                                   json={"days": 3}), 404, "NOT_FOUND")
    other = bearer((await register_other_org(server))["accessToken"])
    assert_error(await client.get(f"{API}/whatsapp/sessions/{sid}/history", headers=other),
                 404, "NOT_FOUND")
    assert_error(await client.post(f"{API}/whatsapp/sessions/{sid}/history", headers=other,
                                   json={"days": 3}), 404, "NOT_FOUND")


async def test_an_engine_without_history_answers_unsupported(tmp_path):
    """The Cloud API keeps no history wacc could read: its engine has no history calls,
    and the session manager answers them "unsupported" (the read then ends FAILED)."""
    from aiolimiter import AsyncLimiter

    from wacc.engines.cloud.engine import CloudEngine
    from wacc.engines.contract import PermanentEngineError
    from wacc.sessions.inbound import SessionRef
    from wacc.sessions.manager import Running, SessionManager

    assert not hasattr(CloudEngine, "history_chats") and not hasattr(CloudEngine, "history")
    manager = SessionManager(engines={}, pipeline=None, bus=None, keyring=None,  # type: ignore[arg-type]
                             data_dir=tmp_path, lease_seconds=3, rpc_host="127.0.0.1", rpc_port=0)
    engine = object.__new__(CloudEngine)  # never started: only its methods matter here
    manager.running["s1"] = Running(ref=SessionRef(id="s1", organization_id="o1"), engine=engine,
                                    limiter=AsyncLimiter(1, 1))
    for method, args in (("history_chats", {"since": 0.0}),
                         ("history", {"chat": {"wa_id": "1@c.us"}, "since": 0.0})):
        with pytest.raises(PermanentEngineError) as error:
            await manager.dispatch("s1", method, args)
        assert error.value.code == "unsupported"


async def test_imported_history_starts_no_automation(client, owner, wa, worker):
    from wacc.automations.tables import AutomationExecution

    tag = (await client.post(f"{API}/tags", headers=owner, json={"name": "seen"})).json()
    r = await client.post(f"{API}/automations", headers=owner, json={
        "name": "Tag every message", "trigger": {"type": "message.received"},
        "actions": [{"type": "add_tag", "tagId": tag["id"]}]})
    assert r.status_code == 201, r.text
    await wa()
    sid = await new_session(client, owner, settings={"history_days": 3})
    await seed_phone(client, owner, sid)
    await simulate(client, owner, sid, "scan")
    read = await finished(client, owner, sid)
    assert read["messagesStored"] == 4
    # A live message afterwards does run it: the automation works, history was quiet.
    await simulate(client, owner, sid, "message", phone=ANA, body="live now", id="LIVE-1")
    # The worker may still be busy with earlier jobs of the suite (media retries back off
    # for minutes): wait for the run, do not time it.
    await until(lambda: AutomationExecution.exists(), timeout=60)
    runs = await AutomationExecution.select()
    assert len(runs) == 1, runs


async def test_no_more_reads_once_the_engine_said_unsupported(client, owner, server):
    from wacc.sessions import history

    runtime = server.app.state["runtime"]  # its queue; no worker runs the reads here

    r = await client.post(f"{API}/whatsapp/sessions", headers=owner, json={
        "name": "x", "engine": "simulator", "connect": False})
    sid = r.json()["id"]
    # A stored message makes a reconnect back-fill…
    await store_message(runtime, sid)
    first = await history.after_ready(runtime, sid)
    assert first is not None
    # …until a read learns that the engine has no history (as the cloud engine answers).
    await HistoryImport.update({HistoryImport.status: "FAILED",
                                HistoryImport.error: history.UNSUPPORTED + "no history"}).where(
        HistoryImport.id == first)
    assert await history.after_ready(runtime, sid) is None
    assert await HistoryImport.count().where(HistoryImport.session == sid) == 1


async def store_message(runtime, sid):
    """A message of the session, stored by the inbound pipeline."""
    from wacc.engines.contract import InboundMessage, Peer
    from wacc.messages.ingest import Pipeline
    from wacc.sessions.inbound import SessionRef
    from wacc.sessions.tables import WhatsAppSession

    row = await WhatsAppSession.select(WhatsAppSession.organization).where(
        WhatsAppSession.id == sid).first()

    pipeline = Pipeline(runtime.bus, runtime.media)
    ana = Peer(wa_id="14155550101@c.us", phone=ANA)
    await pipeline.ingest(SessionRef(id=sid, organization_id=row["organization"]),
                          InboundMessage(id="STORED-1", chat=ana, sender=ana, body="hi",
                                         timestamp=time.time()))
    await pipeline.close()


async def test_history_media_is_downloaded_through_the_session(client, owner, wa, server,
                                                                worker):
    """History reads download media over the session RPC (``download_media``), as the
    worker has no engine of its own: the Media struct crosses as JSON, bytes as base64."""
    import base64

    await wa()
    sid = await connected_session(client, owner)
    rpc = rpc_of(server.app.state["runtime"])
    data = base64.b64encode(b"\x89PNG history bytes").decode()
    got = await rpc.call(sid, "download_media",
                         media={"mime_type": "image/png", "data": data, "size": 18})
    assert base64.b64decode(got) == b"\x89PNG history bytes"
    # An imported image arrives with its file, like a live one.
    await simulate(client, owner, sid, "message", phone=ANA, type="IMAGE", body="photo",
                   media={"mimeType": "image/png", "data": data}, id="H-IMG", offline=True)
    r = await client.post(f"{API}/whatsapp/sessions/{sid}/history", headers=owner,
                          json={"days": 1})
    assert r.status_code == 202, r.text
    assert (await finished(client, owner, sid))["messagesStored"] == 1
    row = await Message.select().where(Message.whatsapp_message_id == "H-IMG").first()
    assert row["type"] == "IMAGE" and row["media_mime_type"] == "image/png"
    assert await server.app.state["runtime"].media.get(row["media_url"]) == \
        b"\x89PNG history bytes"
