"""Team, settings and profile pages over real HTTP: each renders for an owner, the
role gates hide controls and refuse pages, hostile names are escaped, and the audit
viewer shows what was done."""

from __future__ import annotations

import pyotp
import pytest

from tests.helpers import API, PASSWORD, add_member, bearer, register
from tests.ui_support import browse_as, csrf_headers

PAGES = ("/team", "/profile", "/settings/organization", "/settings/tags", "/settings/fields",
         "/settings/canned", "/settings/api-keys", "/settings/audit", "/settings/ai")
HOSTILE = "<script>alert(1)</script>"


async def _owner(client):
    tokens = await register(client)
    await browse_as(client, "owner@example.com", PASSWORD)
    return tokens


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_renders_for_the_owner(client, path):
    await _owner(client)
    response = await client.get(path)
    assert response.status_code == 200, response.text[:500]
    assert "<h1>" in response.text
    if path != "/profile":  # the profile is in the account menu, not the side nav
        assert 'aria-current="page"' in response.text


async def test_settings_home_goes_to_the_organization_tab(client):
    await _owner(client)
    response = await client.get("/settings", follow_redirects=False)
    assert response.status_code in (301, 302, 303, 307)
    assert response.headers["location"].endswith("/settings/organization")


async def test_agent_is_refused_admin_pages_and_sees_no_team_controls(client):
    owner = await register(client)
    await add_member(client, owner["accessToken"], owner["user"]["organizationId"], "AGENT")
    await browse_as(client, "agent@example.com", PASSWORD)

    for path in ("/settings/api-keys", "/settings/audit"):
        response = await client.get(path)
        assert response.status_code == 403, path
        assert "Not allowed" in response.text and "read:" in response.text

    team = await client.get("/team")
    assert team.status_code == 200
    assert "Olivia Owner" in team.text  # the members list is readable
    assert 'id="invite-form"' not in team.text
    assert "Invite a teammate" not in team.text
    assert "Change role" not in team.text

    settings = await client.get("/settings/organization")
    assert settings.status_code == 200
    # Tabs the role cannot open are not offered; the organization form is read-only.
    assert 'href="/settings/api-keys"' not in settings.text
    assert 'href="/settings/audit"' not in settings.text
    assert "<fieldset disabled>" in settings.text
    # A self-hosted install has no plans to speak of (it said "plan FREE", issue 16).
    assert "plan FREE" not in settings.text and "FREE" not in settings.text
    tags = await client.get("/settings/tags")
    assert 'id="tag-form"' not in tags.text


async def test_owner_sees_team_controls_but_none_for_themselves(client):
    owner = await register(client)
    admin = await add_member(client, owner["accessToken"], owner["user"]["organizationId"],
                             "ADMIN")
    await browse_as(client, "owner@example.com", PASSWORD)
    team = await client.get("/team")
    assert 'id="invite-form"' in team.text
    # The admin's row can be changed; the owner's own row has no controls.
    assert f'id="role-{admin["user"]["id"]}"' in team.text
    assert f'id="role-{owner["user"]["id"]}"' not in team.text


async def test_hostile_names_are_escaped(client):
    owner = await register(client)
    auth = bearer(owner["accessToken"])
    r = await client.post(f"{API}/tags", headers=auth, json={"name": HOSTILE})
    assert r.status_code == 201, r.text
    r = await client.post(f"{API}/canned-responses", headers=auth,
                          json={"shortcut": "hi", "content": HOSTILE})
    assert r.status_code == 201, r.text
    r = await client.post(f"{API}/organizations/{owner['user']['organizationId']}/users",
                          headers=auth, json={"email": "x@example.com", "name": HOSTILE})
    assert r.status_code == 201, r.text
    await browse_as(client, "owner@example.com", PASSWORD)
    for path in ("/settings/tags", "/settings/canned", "/team"):
        html = (await client.get(path)).text
        assert HOSTILE not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


async def test_invite_list_and_partial_show_pending_invites(client):
    owner = await register(client)
    org = owner["user"]["organizationId"]
    r = await client.post(f"{API}/organizations/{org}/users", headers=bearer(owner["accessToken"]),
                          json={"email": "newbie@example.com", "role": "MANAGER"})
    assert r.status_code == 201
    await browse_as(client, "owner@example.com", PASSWORD)
    partial = await client.get("/ui/team/invites")
    assert partial.status_code == 200
    assert "newbie@example.com" in partial.text and "<html" not in partial.text
    assert f"/api/v1/organizations/{org}/invites/{r.json()['id']}" in partial.text


async def test_audit_page_lists_an_earlier_action_and_filters(client):
    await register(client)
    token = await browse_as(client, "owner@example.com", PASSWORD)
    r = await client.post(f"{API}/tags", headers=csrf_headers(token), json={"name": "VIP"})
    assert r.status_code == 201, r.text

    page = await client.get("/settings/audit")
    assert page.status_code == 200
    assert "<code>tag.create</code>" in page.text and r.json()["id"] in page.text
    assert "Olivia Owner" in page.text

    only_logins = await client.get("/settings/audit", params={"action": "auth.login"})
    assert "<code>tag.create</code>" not in only_logins.text
    assert "<code>auth.login</code>" in only_logins.text

    later = await client.get("/settings/audit", params={"since": "2999-01-01"})
    assert "No audit entries match" in later.text

    bad = await client.get("/settings/audit", params={"since": "not-a-date", "cursor": "junk"})
    assert bad.status_code == 200
    assert "is not a date" in bad.text and "no longer valid" in bad.text


async def test_api_keys_page_shows_prefix_never_the_secret(client):
    await register(client)
    csrf = await browse_as(client, "owner@example.com", PASSWORD)
    r = await client.post(f"{API}/api-keys", headers=csrf_headers(csrf),
                          json={"name": "CRM sync", "scopes": ["read:contacts"]})
    assert r.status_code == 201, r.text
    html = (await client.get("/settings/api-keys")).text
    assert "CRM sync" in html and r.json()["prefix"] in html
    assert r.json()["key"] not in html
    # Only scopes the creator holds are offered (an owner holds them all).
    assert 'value="delete:organization"' in html


async def test_profile_offers_two_factor_setup_or_disable(client):
    await register(client)
    csrf = await browse_as(client, "owner@example.com", PASSWORD)
    html = (await client.get("/profile")).text
    assert 'id="mfa-setup"' in html and 'id="password-form"' in html
    assert 'id="name-form"' in html

    setup = await client.post(f"{API}/auth/mfa/setup", headers=csrf_headers(csrf))
    assert setup.status_code == 200, setup.text
    assert setup.json()["qrDataUri"].startswith("data:image/svg+xml")
    r = await client.post(f"{API}/auth/mfa/enable", headers=csrf_headers(csrf),
                          json={"code": pyotp.TOTP(setup.json()["secret"]).now()})
    assert r.status_code == 200, r.text
    html = (await client.get("/profile")).text
    assert 'id="mfa-disable-form"' in html and 'id="mfa-setup"' not in html


async def test_viewer_profile_has_no_name_form(client):
    owner = await register(client)
    await add_member(client, owner["accessToken"], owner["user"]["organizationId"], "VIEWER")
    await browse_as(client, "viewer@example.com", PASSWORD)
    html = (await client.get("/profile")).text
    assert 'id="name-form"' not in html and "Viewer Person" in html
    assert (await client.get("/settings/ai")).status_code == 403
