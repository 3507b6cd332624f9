"""Session pages over real HTTP: the wizard's second step, the list and detail with their
live partials, the simulator's customer phone; roles, tenancy and escaping."""

from __future__ import annotations

from tests.helpers import API, add_member, bearer, register, register_other_org
from tests.helpers import PASSWORD as HELPER_PASSWORD
from tests.support.polling import until
from tests.support.whatsapp import connected_session
from tests.ui_support import ui_login
from wacc.sessions.schemas import SessionOut
from wacc.ui.sessions_pages import status_view

EMAIL, PASSWORD = "owner@example.com", "correct-horse-battery"
HOSTILE = "<script>alert(1)</script>"
HTML = {"Accept": "text/html"}


async def _owner(client):
    tokens = await register(client, email=EMAIL, password=PASSWORD)
    await ui_login(client, EMAIL, PASSWORD)
    return tokens, bearer(tokens["accessToken"])


async def _session(client, head, name="Front desk", engine="simulator", **extra):
    r = await client.post(f"{API}/whatsapp/sessions", headers=head,
                          json={"name": name, "engine": engine, "connect": False, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def test_wizard_step_two_offers_the_installed_engines(client):
    await _owner(client)
    page = await client.get("/setup/session", headers=HTML)
    assert page.status_code == 200
    html = page.text
    assert "Step 2 of 2" in html and 'id="session-form"' in html
    for engine, title in (("simulator", "Simulator"), ("web", "WhatsApp Web"),
                          ("cloud", "WhatsApp Cloud API")):
        assert f'value="{engine}"' in html and title in html
    # The cloud engine's credentials, sent only when cloud is chosen (sessions.js).
    for field in ("settings.phone_number_id", "credentials.access_token",
                  "credentials.app_secret", "credentials.verify_token"):
        assert f'name="{field}"' in html
    assert 'data-then="redirect:/setup/session?session={id}"' in html
    assert 'href="/inbox">I&#39;ll do this later' in html or "I'll do this later" in html
    assert "/static/js/live.js" in html  # the QR code arrives live


async def test_wizard_shows_the_created_session_connecting(client):
    _, head = await _owner(client)
    session = await _session(client, head, name="Support line")
    page = await client.get(f"/setup/session?session={session['id']}", headers=HTML)
    assert page.status_code == 200
    assert "Support line" in page.text and 'id="session-form"' not in page.text
    assert f'hx-get="/ui/sessions/{session["id"]}/connect?wizard=true"' in page.text
    panel = await client.get(f"/ui/sessions/{session['id']}/connect?wizard=true", headers=HTML)
    assert panel.status_code == 200
    assert "Disconnected" in panel.text and ">Connect</button>" in panel.text
    assert "<html" not in panel.text  # a fragment, not a page


async def test_cloud_session_shows_its_webhook_url(client):
    _, head = await _owner(client)
    session = await _session(client, head, name="Meta line", engine="cloud",
                             settings={"phone_number_id": "123456"},
                             credentials={"access_token": "tok", "app_secret": "s",
                                          "verify_token": "v"})
    page = await client.get(f"/sessions/{session['id']}", headers=HTML)
    assert page.status_code == 200
    assert f"/api/v1/whatsapp/sessions/{session['id']}/webhook" in page.text
    assert "/api/v1/whatsapp/cloud/webhook\"" in page.text  # one URL for all of an app's numbers
    assert "tok" not in page.text.replace("token", "")  # the secret is never shown


async def test_qr_code_and_simulated_scan_then_connected(client, wa):
    await wa()
    _, head = await _owner(client)
    r = await client.post(f"{API}/whatsapp/sessions", headers=head,
                          json={"name": "Front desk", "engine": "simulator"})
    sid = r.json()["id"]

    async def qr_panel():
        panel = await client.get(f"/ui/sessions/{sid}/connect?wizard=true", headers=HTML)
        return "<svg" in panel.text and panel

    panel = await until(qr_panel)
    assert 'aria-label="QR code to scan with WhatsApp"' in panel.text
    assert "Scan with the simulated phone" in panel.text
    assert f'data-api="/api/v1/whatsapp/sessions/{sid}/simulator"' in panel.text
    await client.post(f"{API}/whatsapp/sessions/{sid}/simulator", headers=head,
                      json={"action": "scan"})

    async def done():
        panel = await client.get(f"/ui/sessions/{sid}/connect?wizard=true", headers=HTML)
        return "Connected" in panel.text and panel

    panel = await until(done)
    assert 'href="/inbox">Done</a>' in panel.text and "<svg" not in panel.text
    rows = await client.get("/ui/sessions/rows", headers=HTML)
    assert "Connected" in rows.text and f'href="/simulator/{sid}"' in rows.text
    assert 'aria-label="Disconnect Front desk"' in rows.text


async def test_list_detail_and_phone_for_the_owner(client):
    _, head = await _owner(client)
    sim = await _session(client, head, name="Front desk")
    web = await _session(client, head, name="Shop phone", engine="web")
    page = await client.get("/sessions", headers=HTML)
    assert page.status_code == 200
    html = page.text
    assert "Front desk" in html and "Shop phone" in html
    assert 'href="/sessions/new">Add session' in html
    assert f'data-api="/api/v1/whatsapp/sessions/{sim["id"]}" data-method="DELETE"' in html
    assert f'href="/simulator/{sim["id"]}">Open customer phone' in html
    assert f'href="/simulator/{web["id"]}"' not in html  # only simulator sessions have one
    assert (await client.get("/sessions/new", headers=HTML)).status_code == 200

    r = await client.post(f"{API}/whatsapp/sessions/{web['id']}/disconnect", headers=head)
    assert r.status_code == 200, r.text
    detail = await client.get(f"/sessions/{web['id']}", headers=HTML)
    assert detail.status_code == 200
    assert "session.disconnect" in detail.text  # recent actions, from the audit log
    assert f'data-api="/api/v1/whatsapp/sessions/{web["id"]}/pairing-code"' in detail.text
    assert f'data-status-log="{web["id"]}"' in detail.text

    phone = await client.get(f"/simulator/{sim['id']}", headers=HTML)
    assert phone.status_code == 200
    assert 'id="sim-compose"' in phone.text and "sim-no-permission" not in phone.text
    assert "/static/js/simulator.js" in phone.text
    # A WhatsApp Web session has no customer phone.
    assert (await client.get(f"/simulator/{web['id']}", headers=HTML)).status_code == 404


async def test_agent_sees_the_list_but_cannot_manage(client):
    tokens, head = await _owner(client)
    sim = await _session(client, head, name="Front desk")
    client.cookies.clear()  # the invite is accepted signed out (no cookie, no CSRF token)
    await add_member(client, tokens["accessToken"], tokens["user"]["organizationId"], "AGENT",
                     email="agent@example.com")
    await ui_login(client, "agent@example.com", HELPER_PASSWORD)
    page = await client.get("/sessions", headers=HTML)
    assert page.status_code == 200
    assert "Front desk" in page.text
    assert "Add session" not in page.text and 'data-method="DELETE"' not in page.text
    assert '/disconnect"' not in page.text and '/connect"' not in page.text
    detail = await client.get(f"/sessions/{sim['id']}", headers=HTML)
    assert detail.status_code == 200 and "Delete session" not in detail.text
    assert (await client.get("/sessions/new", headers=HTML)).status_code == 403
    assert (await client.get("/setup/session", headers=HTML)).status_code == 403
    phone = await client.get(f"/simulator/{sim['id']}", headers=HTML)
    assert phone.status_code == 200
    assert "sim-no-permission" in phone.text and "write:sessions" in phone.text


async def test_another_organizations_session_is_not_found(client, server):
    await _owner(client)
    other = await register_other_org(server)
    theirs = await _session(client, bearer(other["accessToken"]), name="Globex line")
    for path in (f"/sessions/{theirs['id']}", f"/simulator/{theirs['id']}",
                 f"/ui/sessions/{theirs['id']}/connect", f"/setup/session?session={theirs['id']}"):
        page = await client.get(path, headers=HTML)
        assert page.status_code == 404, path
        assert "Globex line" not in page.text
    assert "Globex line" not in (await client.get("/sessions", headers=HTML)).text


async def test_hostile_session_name_is_escaped(client):
    _, head = await _owner(client)
    session = await _session(client, head, name=HOSTILE)
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in ("/sessions", f"/sessions/{session['id']}", f"/simulator/{session['id']}",
                 f"/setup/session?session={session['id']}", "/ui/sessions/rows"):
        page = await client.get(path, headers=HTML)
        assert page.status_code == 200, path
        assert HOSTILE not in page.text, path
        assert escaped in page.text, path


async def test_empty_list_says_what_to_do(client):
    await _owner(client)
    page = await client.get("/sessions", headers=HTML)
    assert "No WhatsApp session yet." in page.text and 'href="/sessions/new">Add one' in page.text


def _out(**changes) -> SessionOut:
    from datetime import UTC, datetime

    base = dict(id="s1", name="n", engine="web", status="DISCONNECTED",
                desired_state="DISCONNECTED", phone_number=None, has_qr=False, last_seen=None,
                last_error=None, settings={}, created_at=datetime.now(UTC))
    return SessionOut(**{**base, **changes})


def test_status_in_words_for_logouts_updates_and_crashes():
    logged_out = status_view(_out(last_error="LOGGED_OUT: logged out"))
    assert logged_out.label == "Logged out" and "phone logged out" in logged_out.message
    update = status_view(_out(status="FAILED", last_error="NEEDS_UPDATE: version 2.3000"))
    assert update.tone == "bad" and "update wacc" in update.message and "2.3000" in update.message
    cloud = status_view(_out(engine="cloud", last_error="LOGGED_OUT: (#190) token expired"))
    assert "access token" in cloud.message
    retry = status_view(_out(status="LOADING", desired_state="CONNECTED",
                             last_error="CRASHED: the page did not answer for 20 s (hung)"))
    assert retry.label == "Reconnecting" and "hung" in retry.message
    assert status_view(_out(status="CONNECTED", phone_number="+15550001")).message.startswith(
        "Connected as +15550001")
    assert status_view(_out()).tone == "off"


async def test_connected_simulator_phone_page(client, wa):
    await wa()
    _, head = await _owner(client)
    sid, _ = await connected_session(client, head)
    phone = await client.get(f"/simulator/{sid}", headers=HTML)
    assert phone.status_code == 200
    assert 'id="sim-connection" hidden' in phone.text  # no "not connected" notice
