"""The inbox pages over real HTTP with the session cookie: every filter renders, hostile
message text stays text, links are made safe, roles and tenancy hold, and the fragments
the live script fetches (one bubble, the thread's tail, media) answer."""

from __future__ import annotations

import base64
import re

import pytest

from tests.helpers import API, PASSWORD, add_member, bearer, register, register_other_org
from tests.support.polling import until
from tests.support.whatsapp import connected_session, simulate
from tests.ui_support import ui_login

CARLA = "+14155550123"
DAN = "+14155550124"
HTML = {"Accept": "text/html"}
HOSTILE = '<img src=x onerror=alert(1)> and <script>alert("x")</script>'


@pytest.fixture
async def inbox(client, wa, server):
    """An organization with a simulator session and two customer conversations, one of
    them with hostile text, a link, a photo and a location."""
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    await wa()
    sid, _ = await connected_session(client, head)
    await simulate(client, head, sid, "message", phone=CARLA, body=HOSTILE, id="W1",
                   name="Carla <b>Customer</b>")
    await simulate(client, head, sid, "message", phone=CARLA, id="W2",
                   body="See https://example.com/x?a=1&b=2 please")
    await simulate(client, head, sid, "message", phone=CARLA, id="W3", type="IMAGE",
                   body="the parcel", media={"mimeType": "image/png",
                                             "data": base64.b64encode(b"\x89PNG img").decode()})
    await simulate(client, head, sid, "message", phone=CARLA, id="W4", type="LOCATION",
                   location={"latitude": 52.52, "longitude": 13.405, "name": "Depot"})
    await simulate(client, head, sid, "message", phone=DAN, body="Do you ship to Lyon?",
                   id="W5", name="Dan Buyer")

    async def both():
        r = await client.get(f"{API}/conversations", headers=head)
        items = r.json()["items"]
        carla = [i for i in items if i["contact"]["phone"] == CARLA]
        return len(items) == 2 and carla and carla[0]["unreadCount"] == 4 and items

    items = await until(both)
    by_phone = {i["contact"]["phone"]: i for i in items}
    return {"head": head, "tokens": tokens, "org": tokens["user"]["organizationId"],
            "sid": sid, "carla": by_phone[CARLA]["id"], "dan": by_phone[DAN]["id"]}


async def test_every_filter_renders(client, inbox):
    await ui_login(client, "owner@example.com", PASSWORD)
    r = await client.get("/inbox")
    assert r.status_code == 200
    assert 'id="conversation-list"' in r.text and "Dan Buyer" in r.text
    assert 'href="/static/js/inbox.js"' not in r.text  # scripts are <script src>, not links
    assert '<script src="/static/js/inbox.js" defer></script>' in r.text
    for params in ({"view": "mine"}, {"view": "unassigned"}, {"view": "all"},
                   {"status": "pending"}, {"status": "snoozed"}, {"status": "resolved"},
                   {"status": "any"}, {"session": inbox["sid"]}, {"q": "lyon"},
                   {"tag": "no-such-tag"}):
        r = await client.get("/ui/inbox/list", params=params)
        assert r.status_code == 200, (params, r.text)
        assert "<html" not in r.text  # a fragment, not a page
    unassigned = (await client.get("/ui/inbox/list", params={"view": "unassigned"})).text
    assert "Dan Buyer" in unassigned and "Carla" in unassigned
    assert "Nothing assigned to you" in (await client.get("/ui/inbox/list",
                                                          params={"view": "mine"})).text
    found = (await client.get("/ui/inbox/list", params={"q": "lyon"})).text
    assert "Dan Buyer" in found and "Carla" not in found
    assert "No resolved conversations" in (await client.get(
        "/ui/inbox/list", params={"status": "resolved"})).text
    # The row shows the last message, an unread badge and where picking it goes.
    row = (await client.get("/ui/inbox/list")).text
    assert 'class="icon icon-map-pin"' in row and "Location" in row and 'aria-label="4 unread"' in row
    assert f'hx-push-url="/inbox/{inbox["carla"]}"' in row
    r = await client.get("/ui/inbox/list", params={"status": "bogus"})
    assert r.status_code == 400


async def test_thread_escapes_hostile_text_and_makes_links_safe(client, inbox):
    await ui_login(client, "owner@example.com", PASSWORD)
    r = await client.get(f"/inbox/{inbox['carla']}")
    assert r.status_code == 200
    html = r.text
    assert "<img src=x onerror" not in html and "<script>alert" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "Carla &lt;b&gt;Customer&lt;/b&gt;" in html and "<b>Customer</b>" not in html
    link = re.search(r'<a href="https://example.com/x\?a=1&amp;b=2"[^>]*>', html)
    assert link and 'rel="noopener noreferrer nofollow"' in link.group(0)
    assert "52.52, 13.405" in html and "Depot" in html  # coordinates, no map link
    assert "openstreetmap" not in html and "maps.google" not in html
    assert 'id="composer"' in html and 'data-max-bytes="' in html
    # The photo is served through the media route, inline and sandboxed.
    media = re.search(r'src="(/ui/inbox/media/[^"]+)"', html)
    assert media
    r = await client.get(media.group(1))
    assert r.status_code == 200 and r.content == b"\x89PNG img"
    assert r.headers["content-type"].startswith("image/png")
    assert "sandbox" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_fragments_for_live_updates(client, inbox):
    csrf = await ui_login(client, "owner@example.com", PASSWORD)
    cid = inbox["carla"]
    head = {"X-CSRF-Token": csrf, "Accept": "application/json"}
    r = await client.post(f"{API}/conversations/{cid}/notes", headers=head,
                          json={"content": "Call back <script>x</script> tomorrow"})
    assert r.status_code == 201, r.text
    r = await client.post(f"{API}/conversations/{cid}/messages", headers=head,
                          json={"body": "On its way!"})
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    bubble = (await client.get(f"/ui/inbox/messages/{mid}")).text
    assert f'data-message-id="{mid}"' in bubble and "On its way!" in bubble
    assert 'class="item bubble outbound' in bubble and "Olivia Owner" in bubble
    assert re.search(r'class="ack ack-(pending|sent|delivered)"', bubble)
    tail = (await client.get(f"/ui/inbox/conversation/{cid}/messages")).text
    assert "Internal note" in tail and "Call back &lt;script&gt;x&lt;/script&gt;" in tail
    assert "Load earlier" not in tail
    header = (await client.get(f"/ui/inbox/conversation/{cid}/header")).text
    assert 'data-action="assign-me"' in header and "Unassigned" in header
    contact = (await client.get(f"/ui/inbox/conversation/{cid}/contact")).text
    assert "Other conversations" in contact and "+14155550123" in contact


async def test_agent_who_sees_only_own_conversations(client, inbox):
    org, owner_token = inbox["org"], inbox["tokens"]["accessToken"]
    agent = await add_member(client, owner_token, org, "AGENT")
    r = await client.post(f"{API}/conversations/{inbox['carla']}/assign", headers=inbox["head"],
                          json={"userIds": [agent["user"]["id"]]})
    assert r.status_code == 200, r.text
    r = await client.patch(f"{API}/organizations/{org}", headers=inbox["head"],
                           json={"settings": {"agentsSeeOwnConversationsOnly": True}})
    assert r.status_code == 200, r.text
    await ui_login(client, "agent@example.com", PASSWORD)
    listing = (await client.get("/ui/inbox/list", params={"view": "all"})).text
    assert inbox["carla"] in listing and inbox["dan"] not in listing
    page = await client.get(f"/inbox/{inbox['dan']}", headers=HTML)
    assert page.status_code == 404 and "Page not found" in page.text
    assert (await client.get(f"/inbox/{inbox['carla']}")).status_code == 200


async def test_other_organizations_conversation_is_a_404_page(client, inbox, server):
    other = await register_other_org(server)
    await ui_login(client, other["user"]["email"], PASSWORD)
    r = await client.get(f"/inbox/{inbox['carla']}", headers=HTML)
    assert r.status_code == 404 and "Page not found" in r.text and "Carla" not in r.text
    assert (await client.get(f"/ui/inbox/conversation/{inbox['carla']}")).status_code == 404
    listing = (await client.get("/ui/inbox/list")).text
    assert "Carla" not in listing and "Dan" not in listing
    tail = await client.get(f"/ui/inbox/conversation/{inbox['carla']}/messages")
    assert tail.status_code == 404


async def test_viewer_reads_without_composer_or_actions(client, inbox):
    await add_member(client, inbox["tokens"]["accessToken"], inbox["org"], "VIEWER")
    await ui_login(client, "viewer@example.com", PASSWORD)
    r = await client.get(f"/inbox/{inbox['carla']}")
    assert r.status_code == 200
    assert 'id="composer"' not in r.text and "your role cannot reply" in r.text
    assert 'data-action="assign-me"' not in r.text and 'data-action="reply"' not in r.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in r.text


async def test_load_earlier_pages_without_gaps_or_repeats(client, inbox):
    csrf = await ui_login(client, "owner@example.com", PASSWORD)
    head = {"X-CSRF-Token": csrf, "Accept": "application/json"}
    cid = inbox["dan"]
    r = await client.post(f"{API}/conversations/{cid}/notes", headers=head,
                          json={"content": "An early note"})
    assert r.status_code == 201, r.text
    for i in range(44):
        r = await client.post(f"{API}/conversations/{cid}/messages", headers=head,
                              json={"body": f"Reply number {i:02d}"})
        assert r.status_code == 201, r.text
    html = (await client.get(f"/inbox/{cid}", headers=HTML)).text
    assert "Reply number 43" in html and "Do you ship to Lyon?" not in html
    assert "An early note" not in html  # it belongs to the older page
    more = re.search(r'id="load-earlier" hx-get="([^"]+)"', html)
    assert more, "no Load earlier button"
    older = (await client.get(more.group(1).replace("&amp;", "&"))).text
    assert "Do you ship to Lyon?" in older and "An early note" in older
    assert "Start of the conversation" in older and 'id="load-earlier"' not in older
    bubble = r'<div class="body">Reply number (\d\d)'
    shown = re.findall(bubble, html) + re.findall(bubble, older)
    assert sorted(shown) == [f"{i:02d}" for i in range(44)]


async def test_edits_revokes_reactions_and_quotes_are_marked(client, inbox):
    head, sid, cid = inbox["head"], inbox["sid"], inbox["carla"]
    await simulate(client, head, sid, "edit", phone=CARLA, message_id="W2",
                   body="See https://example.com/y instead")
    await simulate(client, head, sid, "revoke", phone=CARLA, message_id="W1")
    await simulate(client, head, sid, "react", phone=CARLA, message_id="W4", emoji="🎉")
    await simulate(client, head, sid, "message", phone=CARLA, id="W6", body="Answering that",
                   quoted_id="W4")

    async def settled():
        r = await client.get(f"{API}/conversations/{cid}/messages", headers=head)
        items = {m["whatsappMessageId"]: m for m in r.json()["items"]}
        return ("W6" in items and items["W1"]["metadata"].get("revoked")
                and items["W4"]["metadata"].get("reactions") and items)

    items = await until(settled)
    await ui_login(client, "owner@example.com", PASSWORD)
    html = (await client.get(f"/inbox/{cid}", headers=HTML)).text
    assert "This message was deleted" in html and "Show what it said" in html
    edited = (await client.get(f"/ui/inbox/messages/{items['W2']['id']}")).text
    assert 'class="edited' in edited and "https://example.com/y" in edited
    reacted = (await client.get(f"/ui/inbox/messages/{items['W4']['id']}")).text
    assert 'class="reactions"' in reacted and "🎉" in reacted
    quoting = (await client.get(f"/ui/inbox/messages/{items['W6']['id']}")).text
    assert '<blockquote class="quoted">Location' in quoting
