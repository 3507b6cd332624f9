"""Full-text search over real HTTP, on whichever database the suite runs on: messages
arrive through the simulator engine as WhatsApp delivers them, contacts through the API.
Case, accents, prefixes, phrases and hostile input; organization and agent visibility;
the index following edits, revokes and deletes."""

from __future__ import annotations

import time

import pytest

from tests.helpers import API, add_member, assert_error, bearer, register, register_other_org
from tests.support.env import backend
from tests.support.polling import until
from tests.support.whatsapp import connected_session, simulate
from wacc.contacts.tables import Contact
from wacc.conversations.tables import Conversation
from wacc.db.engine import bound_engine
from wacc.messages.tables import Message

CARLA = "+14155550123"
DAN = "+14155550124"
NOW = time.time()


async def _accents_fold() -> bool:
    """SQLite always folds accents; PostgreSQL when the unaccent extension is installed."""
    if backend() == "sqlite":
        return True
    return bool(await Message.raw("SELECT 1 FROM pg_extension WHERE extname = 'unaccent'"))


@pytest.fixture
async def inbox(client, wa, server):
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    await wa()
    sid, _ = await connected_session(client, head)
    await simulate(client, head, sid, "message", phone=CARLA, name="Carla Customer", id="W1",
                   body="Where is my parcel? Café crème at the Zürich depot", timestamp=NOW - 30)
    await simulate(client, head, sid, "message", phone=DAN, name="Dan Buyer", id="W2",
                   body="Do you ship to Lyon? I need 3 boxes", timestamp=NOW - 20)
    await simulate(client, head, sid, "message", phone=CARLA, id="W3",
                   body="The parcel arrived, thanks!", timestamp=NOW - 10)

    async def arrived():
        return await Message.count() == 3

    await until(arrived)
    return {"head": head, "tokens": tokens, "sid": sid, "org": tokens["user"]["organizationId"],
            "server": server}


async def _hits(client, head, q, kind="messages", expect=200, **params):
    r = await client.get(f"{API}/search/{kind}", headers=head, params={"q": q, **params})
    assert r.status_code == expect, f"{q!r}: {r.text}"
    return r.json()["items"]


async def _wa_ids(client, head, q, **params):
    hits = await _hits(client, head, q, **params)
    rows = await Message.select(Message.id, Message.whatsapp_message_id).where(
        Message.id.is_in([h["id"] for h in hits] or [""]))
    by_id = {r["id"]: r["whatsapp_message_id"] for r in rows}
    return [by_id[h["id"]] for h in hits]


async def test_words_case_accents_prefix_and_phrases(client, inbox):
    head = inbox["head"]
    assert set(await _wa_ids(client, head, "PARCEL")) == {"W1", "W3"}
    assert set(await _wa_ids(client, head, "parc")) == {"W1", "W3"}  # last word: a prefix
    assert await _wa_ids(client, head, "parc ship") == []  # only the last word is a prefix
    assert await _wa_ids(client, head, "lyon boxes") == ["W2"]  # every word must match
    assert await _wa_ids(client, head, "lyon parcel") == []
    assert await _wa_ids(client, head, '"parcel arrived"') == ["W3"]  # a phrase, in order
    assert await _wa_ids(client, head, '"arrived parcel"') == []
    assert await _wa_ids(client, head, '"parc"') == []  # a quoted word is not a prefix
    assert await _wa_ids(client, head, "Zürich") == ["W1"]
    assert await _wa_ids(client, head, "3") == ["W2"]
    folded = await _wa_ids(client, head, "zurich CAFE creme")
    assert folded == (["W1"] if await _accents_fold() else [])

    hits = await _hits(client, head, "lyon")
    hit = hits[0]
    assert hit["contact"]["name"] == "Dan Buyer" and hit["contact"]["phone"] == DAN
    assert hit["sessionId"] == inbox["sid"] and hit["direction"] == "INBOUND"
    assert hit["body"] == "Do you ship to Lyon? I need 3 boxes"
    assert "<mark>Lyon</mark>" in hit["snippet"]
    message = (await client.get(f"{API}/messages/{hit['id']}", headers=head)).json()
    assert hit["timestamp"] == message["timestamp"]
    conversation = await Conversation.select().where(Conversation.id == hit["conversationId"]).first()
    assert conversation is not None and conversation["session"] == inbox["sid"]

    # Filters: a conversation, a session; and a limit.
    carla_conv = (await _hits(client, head, "parcel"))[0]["conversationId"]
    assert set(await _wa_ids(client, head, "parcel", conversationId=carla_conv)) == {"W1", "W3"}
    dan_conv = hit["conversationId"]
    assert await _wa_ids(client, head, "parcel", conversationId=dan_conv) == []
    assert len(await _wa_ids(client, head, "parcel", sessionId=inbox["sid"])) == 2
    assert await _wa_ids(client, head, "parcel", sessionId="no-such-session") == []
    assert len(await _hits(client, head, "parcel", limit=1)) == 1


async def test_best_match_first_then_newest(client, inbox):
    head, sid = inbox["head"], inbox["sid"]
    for i, ts in enumerate((NOW - 9, NOW - 5, NOW - 7)):
        await simulate(client, head, sid, "message", phone=DAN, id=f"T{i}",
                       body="status update please", timestamp=ts)
    await simulate(client, head, sid, "message", phone=DAN, id="T9", timestamp=NOW - 100,
                   body="update update update: status of the status update")

    async def arrived():
        return await Message.count() == 7

    await until(arrived)
    order = await _wa_ids(client, head, "status update")
    assert order[0] == "T9"  # the best match wins although it is the oldest
    assert order[1:] == ["T1", "T2", "T0"]  # equal matches: newest first


async def test_conversation_list_filter_uses_the_same_search(client, inbox):
    head = inbox["head"]

    async def names(q):
        r = await client.get(f"{API}/conversations", headers=head, params={"q": q})
        assert r.status_code == 200, r.text
        return sorted(i["contact"]["name"] for i in r.json()["items"])

    assert await names("parc") == ["Carla Customer"]
    assert await names("Dan") == ["Dan Buyer"]
    assert await names("555 0124") == ["Dan Buyer"]  # phone digits, wherever they are
    assert await names("ZÜRICH") == ["Carla Customer"]
    assert await names('"; DROP TABLE message; --') == []
    assert await names("***") == []
    assert await Message.count() == 3


HOSTILE = [
    "'", '"', '"unclosed parcel', "parcel AND OR NOT", "NEAR(parcel lyon)", "parcel*",
    "-parcel", "^parcel", "body:parcel", "{body}: parcel", "parcel + arrived", "'; DROP TABLE message; --",
    "%", "_", "\\", "(", ")", "a & b | !c", "<->", ":*", "{}", "{0}", "%s", "$1", "📦 parcel",
    "日本語", "parcel\\", "pa'rcel", "O'Brien", "x\x00y", "\u0301", "ǅ", "Ⅻ", "١٢٣",
]


async def test_hostile_input_is_a_clear_answer_never_a_500(client, inbox):
    head, org = inbox["head"], inbox["org"]
    before = await Message.select(Message.id, Message.body).order_by(Message.id)
    # Two teammates share the calls: each caller has a per-minute request budget.
    searcher, lister = [bearer((await add_member(client, inbox["tokens"]["accessToken"], org,
                                                 role))["accessToken"])
                        for role in ("ADMIN", "MANAGER")]
    for q in HOSTILE:
        for kind in ("messages", "contacts"):
            r = await client.get(f"{API}/search/{kind}", headers=searcher, params={"q": q})
            if r.status_code != 200:
                assert_error(r, 400, "VALIDATION_ERROR")
        for path, name in (("conversations", "q"), ("contacts", "search")):
            r = await client.get(f"{API}/{path}", headers=lister, params={name: q})
            assert r.status_code == 200, f"{path} {q!r}: {r.text}"
    # Operators are words like any other: nothing is excluded or wildcarded.
    assert set(await _wa_ids(client, head, "-parcel")) == {"W1", "W3"}
    assert set(await _wa_ids(client, head, "parcel*")) == {"W1", "W3"}
    assert await _wa_ids(client, head, "parcel AND OR NOT") == []
    for q in ("", "   ", "***", "'", "x" * 201, " ".join(["word"] * 21)):
        assert_error(await client.get(f"{API}/search/messages", headers=head, params={"q": q}),
                     400, "VALIDATION_ERROR")
    assert_error(await client.get(f"{API}/search/messages", headers=head), 400,
                 "VALIDATION_ERROR")
    for limit in (0, 51, "many"):
        r = await client.get(f"{API}/search/messages", headers=head,
                             params={"q": "parcel", "limit": limit})
        assert_error(r, 400, "VALIDATION_ERROR")
    assert await Message.select(Message.id, Message.body).order_by(Message.id) == before


async def test_results_stay_in_the_organization(client, inbox, server):
    head = inbox["head"]
    other = await register_other_org(server)
    other_head = bearer(other["accessToken"])
    other_sid, _ = await connected_session(client, other_head)
    await simulate(client, other_head, other_sid, "message", phone=CARLA, name="Carla Customer",
                   id="O1", body="Globex parcel question")

    async def arrived():
        return await Message.count() == 4

    await until(arrived)
    assert await _wa_ids(client, other_head, "parcel") == ["O1"]
    assert set(await _wa_ids(client, head, "parcel")) == {"W1", "W3"}
    assert await _wa_ids(client, other_head, "lyon") == []
    assert [c["name"] for c in await _hits(client, other_head, "carla", "contacts")] == [
        "Carla Customer"]
    assert len(await _hits(client, head, "carla", "contacts")) == 1
    assert await _hits(client, other_head, "dan", "contacts") == []
    assert await _hits(client, other_head, "0124", "contacts") == []
    # Another organization's conversation is not found, not merely empty.
    cid = (await _hits(client, head, "lyon"))[0]["conversationId"]
    r = await client.get(f"{API}/search/messages", headers=other_head,
                         params={"q": "lyon", "conversationId": cid})
    assert_error(r, 404, "NOT_FOUND")


async def test_agents_limited_to_their_own_conversations_find_only_those(client, inbox):
    head, org = inbox["head"], inbox["org"]
    agent = await add_member(client, inbox["tokens"]["accessToken"], org, "AGENT")
    agent_head = bearer(agent["accessToken"])
    carla_conv = (await _hits(client, head, "parcel"))[0]["conversationId"]
    dan_conv = (await _hits(client, head, "lyon"))[0]["conversationId"]
    r = await client.post(f"{API}/conversations/{carla_conv}/assign", headers=head,
                          json={"userIds": [agent["user"]["id"]]})
    assert r.status_code == 200, r.text
    assert await _wa_ids(client, agent_head, "lyon") == ["W2"]  # setting off: sees all

    r = await client.patch(f"{API}/organizations/{org}", headers=head,
                           json={"settings": {"agentsSeeOwnConversationsOnly": True}})
    assert r.status_code == 200, r.text
    assert await _wa_ids(client, agent_head, "lyon") == []
    assert set(await _wa_ids(client, agent_head, "parcel")) == {"W1", "W3"}
    assert await _wa_ids(client, head, "lyon") == ["W2"]  # the owner still sees everything
    r = await client.get(f"{API}/search/messages", headers=agent_head,
                         params={"q": "lyon", "conversationId": dan_conv})
    assert_error(r, 404, "NOT_FOUND")
    r = await client.get(f"{API}/conversations", headers=agent_head, params={"q": "lyon"})
    assert r.json()["items"] == []


async def test_edits_and_revokes_are_what_is_found(client, inbox):
    head, sid = inbox["head"], inbox["sid"]
    await simulate(client, head, sid, "message", phone=DAN, id="E1", body="Ths is a typo")
    await until(lambda: _found(client, head, "ths"))
    await simulate(client, head, sid, "edit", phone=DAN, message_id="E1", body="This is a tiger")
    await until(lambda: _found(client, head, "tiger"))
    assert await _wa_ids(client, head, "ths") == []
    assert await _wa_ids(client, head, "typo") == []
    await simulate(client, head, sid, "revoke", phone=DAN, message_id="E1")

    async def gone():
        return await _wa_ids(client, head, "tiger") == []

    await until(gone)
    r = await client.get(f"{API}/conversations", headers=head, params={"q": "tiger"})
    assert r.json()["items"] == []


async def test_snippets_are_escaped_html(client, inbox):
    head, sid = inbox["head"], inbox["sid"]
    await simulate(client, head, sid, "message", phone=DAN, id="H1",
                   body='<img src=x onerror="alert(1)"> & the walrus')
    hits = await until(lambda: _hits(client, head, "walrus"))
    snippet = hits[0]["snippet"]
    assert "<mark>walrus</mark>" in snippet
    assert "<" not in snippet.replace("<mark>", "").replace("</mark>", "")
    if backend() == "sqlite":  # PostgreSQL's headline leaves HTML tags out altogether
        assert "&lt;img" in snippet and "&amp; the <mark>walrus</mark>" in snippet
    assert hits[0]["body"].startswith("<img")  # the body itself is returned as sent


async def _found(client, head, q):
    return await _wa_ids(client, head, q)


async def _contact(client, head, phone, **extra):
    r = await client.post(f"{API}/contacts", headers=head, json={"phoneNumber": phone, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def test_contacts_by_name_email_and_phone_digits(client):
    head = bearer((await register(client))["accessToken"])
    zoe = await _contact(client, head, "+14155550199", name="Zoë Ångström",
                         email="zoe.angstrom@example.org")
    await _contact(client, head, "+442071838750", name="Kim Park", email="kim@park.test")

    async def names(q, **params):
        return [c["name"] for c in await _hits(client, head, q, "contacts", **params)]

    assert await names("zoë") == ["Zoë Ångström"]
    assert await names("ZOË ÅNG") == ["Zoë Ångström"]
    if await _accents_fold():
        assert await names("zoe angstrom") == ["Zoë Ångström"]
    assert await names("zoe.angstrom@example.org") == ["Zoë Ångström"]
    assert await names("example") == ["Zoë Ångström"]  # a word of the e-mail address
    assert await names("park") == ["Kim Park"]
    assert await names("555 0199") == ["Zoë Ångström"]
    assert await names("+1 (415) 555-0199") == ["Zoë Ångström"]
    assert await names("2071838") == ["Kim Park"]
    assert await names("71") == []  # too few digits to be a phone number
    assert len(await names("k", limit=1)) <= 1
    hit = (await _hits(client, head, "zoe.angstrom", "contacts"))[0]
    assert hit["phoneNumber"] == "+14155550199" and hit["email"] == "zoe.angstrom@example.org"
    # The contact list's search is the same search.
    r = await client.get(f"{API}/contacts", headers=head, params={"search": "ångström"})
    assert [c["id"] for c in r.json()["items"]] == [zoe["id"]]

    # Updates and deletes reach the index.
    r = await client.patch(f"{API}/contacts/{zoe['id']}", headers=head,
                           json={"name": "Zoe Renamed", "email": "zr@example.net"})
    assert r.status_code == 200, r.text
    assert await names("angstrom") == []
    assert await names("renamed") == ["Zoe Renamed"]
    assert await names("example net") == ["Zoe Renamed"]
    assert (await client.delete(f"{API}/contacts/{zoe['id']}", headers=head)).status_code == 204
    assert await names("renamed") == []
    assert await names("0199") == []
    await _check_index()


async def test_deleting_a_contact_removes_its_messages_from_search(client, inbox):
    head = inbox["head"]
    carla = await Contact.select().where(Contact.phone_number == CARLA).first()
    assert (await client.delete(f"{API}/contacts/{carla['id']}", headers=head)).status_code == 204
    assert await _wa_ids(client, head, "parcel") == []
    assert await _wa_ids(client, head, "lyon") == ["W2"]
    await _check_index()


async def _check_index() -> None:
    """SQLite: the FTS index agrees with its content tables (FTS5 raises otherwise);
    the tests' own reset deletes rows one by one, through the same triggers."""
    if backend() != "sqlite":
        return
    for table in ("message_fts", "contact_fts"):
        await bound_engine().run_ddl(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")


async def test_index_is_consistent_after_the_tests_reset(client):
    await _check_index()


async def test_postgres_uses_the_gin_indexes(client):
    if backend() != "postgres":
        pytest.skip("GIN expression indexes are PostgreSQL's; SQLite queries FTS5 tables")
    from wacc.db import fulltext as query

    found = query.parse("parcel")
    engine = bound_engine()
    async with engine.transaction():
        await Message.raw("SET LOCAL enable_seqscan = off")
        plan = await Message.raw(
            "EXPLAIN SELECT id FROM message m WHERE {}", query.message_match("m", found))
        contact_plan = await Contact.raw(
            "EXPLAIN SELECT id FROM contact c WHERE {}",
            query.contact_match("c", query.parse("carla")))
    assert "ix_message_body_fts" in str(plan)
    assert "ix_contact_name_email_fts" in str(contact_plan)
