"""The audit log: what mutating requests write, what reading writes (nothing), who may
read it, its filters and cursor pagination, and tenancy."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from tests.helpers import (
    API,
    PASSWORD,
    add_member,
    assert_error,
    bearer,
    login,
    register,
    register_other_org,
)
from wacc.audit.tables import ActivityLog
from wacc.lib.clock import iso, utcnow
from wacc.lib.ids import new_id

LOGS = f"{API}/audit-logs"
UA = {"User-Agent": "audit-test/2.0"}


async def _settled() -> int:
    """The row count once it stops moving. A request's audit row is written just after
    its response is sent (wacc.http.middleware), so a test reading the table right
    after a request waits for it."""
    last, stable = -1, 0
    for _ in range(200):
        await asyncio.sleep(0.02)
        count = await ActivityLog.count()
        stable = stable + 1 if count == last else 0
        last = count
        if stable == 3:
            break
    return last


async def _rows(**where) -> list[dict]:
    await _settled()
    query = ActivityLog.select().order_by(ActivityLog.timestamp)
    for name, value in where.items():
        query = query.where(getattr(ActivityLog, name) == value)
    return await query


async def _only(action: str) -> dict:
    rows = await _rows(action=action)
    assert len(rows) == 1, (action, rows)
    return rows[0]


def _check(row: dict, response, *, action: str, resource: str, user_id: str | None,
           resource_id: str | None = None, api_key_id: str | None = None) -> None:
    assert row["action"] == action
    assert row["resource"] == resource
    assert row["user"] == user_id
    assert row["api_key"] == api_key_id
    if resource_id is not None:
        assert row["resource_id"] == resource_id
    assert row["ip_address"] == "127.0.0.1"
    assert row["user_agent"] == UA["User-Agent"]
    assert row["request_id"] == response.headers["x-request-id"]
    assert row["status_code"] == response.status_code


async def test_mutating_requests_are_recorded(client):
    r = await client.post(f"{API}/auth/register", headers=UA, json={
        "organizationName": "Acme", "name": "Olivia Owner", "email": "owner@example.com",
        "password": PASSWORD})
    owner = r.json()
    uid, org_id = owner["user"]["id"], owner["user"]["organizationId"]
    token = owner["accessToken"]
    _check(await _only("auth.register"), r, action="auth.register", resource="auth",
           user_id=uid)

    r = await client.post(f"{API}/auth/login", headers=UA,
                          json={"email": "owner@example.com", "password": PASSWORD})
    _check(await _only("auth.login"), r, action="auth.login", resource="auth", user_id=uid)

    r = await client.post(f"{API}/organizations/{org_id}/users", headers={**UA, **bearer(token)},
                          json={"email": "new@example.com", "role": "AGENT"})
    invite_id = r.json()["id"]
    _check(await _only("user.invite"), r, action="user.invite", resource="invite",
           user_id=uid, resource_id=invite_id)

    r = await client.post(f"{API}/api-keys", headers={**UA, **bearer(token)},
                          json={"name": "bot", "scopes": ["write:organization", "read:users"]})
    key = r.json()
    _check(await _only("api_key.create"), r, action="api_key.create", resource="api_key",
           user_id=uid, resource_id=key["id"])

    # A request made with the key is attributed to the key.
    r = await client.patch(f"{API}/organizations/{org_id}", headers={**UA, "X-API-Key": key["key"]},
                           json={"name": "Acme Two"})
    assert r.status_code == 200, r.text
    _check(await _only("organization.update"), r, action="organization.update",
           resource="organization", user_id=None, api_key_id=key["id"], resource_id=org_id)

    r = await client.delete(f"{API}/api-keys/{key['id']}", headers={**UA, **bearer(token)})
    assert r.status_code == 204
    _check(await _only("api_key.revoke"), r, action="api_key.revoke", resource="api_key",
           user_id=uid, resource_id=key["id"])

    # Secrets in requests and responses never reach the log.
    everything = str(await ActivityLog.select())
    assert PASSWORD not in everything and key["key"] not in everything
    assert owner["refreshToken"] not in everything


async def test_client_request_id_is_kept(client):
    owner = await register(client)
    org_id = owner["user"]["organizationId"]
    r = await client.patch(f"{API}/organizations/{org_id}", json={"name": "Renamed"},
                           headers={**UA, **bearer(owner["accessToken"]),
                                    "X-Request-ID": "trace-abc-123"})
    assert r.headers["x-request-id"] == "trace-abc-123"
    assert (await _only("organization.update"))["request_id"] == "trace-abc-123"


async def test_reading_writes_nothing(client):
    owner = await register(client)
    token, org_id = owner["accessToken"], owner["user"]["organizationId"]
    before = await _settled()
    assert before == 1  # the registration
    for url in (f"{API}/auth/me", f"{API}/organizations", f"{API}/organizations/{org_id}",
                f"{API}/organizations/{org_id}/users", f"{API}/api-keys", LOGS,
                f"{API}/organizations/{org_id}/invites"):
        r = await client.get(url, headers=bearer(token))
        assert r.status_code == 200, (url, r.text)
    assert await _settled() == before


async def _list(client, token: str, **params):
    return await client.get(LOGS, headers=bearer(token), params=params)


async def test_only_owners_and_admins_read_the_log(client):
    owner = await register(client)
    token, org_id = owner["accessToken"], owner["user"]["organizationId"]
    admin = await add_member(client, token, org_id, "ADMIN")
    assert (await _list(client, admin["accessToken"])).status_code == 200
    for role in ("MANAGER", "AGENT", "VIEWER"):
        member = await add_member(client, token, org_id, role)
        assert_error(await _list(client, member["accessToken"]), 403, "AUTHORIZATION_ERROR")
    r = await client.post(f"{API}/api-keys", headers=bearer(token),
                          json={"name": "reader", "scopes": ["read:users"]})
    assert_error(await client.get(LOGS, headers={"X-API-Key": r.json()["key"]}), 403,
                 "AUTHORIZATION_ERROR")
    r = await client.post(f"{API}/api-keys", headers=bearer(token),
                          json={"name": "auditor", "scopes": ["read:audit"]})
    assert (await client.get(LOGS, headers={"X-API-Key": r.json()["key"]})).status_code == 200


async def test_filters(client):
    owner = await register(client)
    token, org_id, uid = (owner["accessToken"], owner["user"]["organizationId"],
                          owner["user"]["id"])
    admin = await add_member(client, token, org_id, "ADMIN")
    org_url = f"{API}/organizations/{org_id}"
    for i in range(3):
        await client.patch(org_url, headers=bearer(admin["accessToken"]), json={"name": f"A{i}"})
    await _settled()
    middle = utcnow()
    for i in range(2):
        await client.patch(org_url, headers=bearer(token), json={"name": f"O{i}"})
    await _settled()

    page = (await _list(client, token, userId=admin["user"]["id"])).json()
    assert {i["userId"] for i in page["items"]} == {admin["user"]["id"]}
    # The admin's own sign-in (accept + login) and three updates.
    assert [i["action"] for i in page["items"]][:3] == ["organization.update"] * 3

    page = (await _list(client, token, action="organization.update")).json()
    assert len(page["items"]) == 5
    assert [i["userId"] for i in page["items"]] == [uid, uid] + [admin["user"]["id"]] * 3

    page = (await _list(client, token, resource="organization", userId=uid)).json()
    assert len(page["items"]) == 2 and page["nextCursor"] is None

    page = (await _list(client, token, action="organization.update", since=iso(middle))).json()
    assert [i["userId"] for i in page["items"]] == [uid, uid]
    page = (await _list(client, token, action="organization.update", until=iso(middle))).json()
    assert [i["userId"] for i in page["items"]] == [admin["user"]["id"]] * 3
    # Any offset means the same instant.
    shifted = middle.astimezone(datetime.fromisoformat("2000-01-01T00:00:00+05:30").tzinfo)
    page = (await _list(client, token, action="organization.update",
                        since=shifted.isoformat())).json()
    assert len(page["items"]) == 2
    # Without an offset a time is UTC, on either database.
    naive = middle.replace(tzinfo=None).isoformat()
    page = (await _list(client, token, action="organization.update", since=naive)).json()
    assert len(page["items"]) == 2
    page = (await _list(client, token, action="organization.update", until=naive)).json()
    assert len(page["items"]) == 3
    page = (await _list(client, token, resourceId=org_id)).json()
    assert {i["resourceId"] for i in page["items"]} == {org_id}

    page = (await _list(client, token, action="no.such.action")).json()
    assert page == {"items": [], "nextCursor": None}

    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "not-a-cursor"},
                   {"since": "yesterday"}):
        assert_error(await _list(client, token, **params), 400, "VALIDATION_ERROR")


async def test_cursor_pagination_walks_every_row_once(client):
    owner = await register(client)
    token, org_id = owner["accessToken"], owner["user"]["organizationId"]
    for i in range(12):
        r = await client.patch(f"{API}/organizations/{org_id}", headers=bearer(token),
                               json={"name": f"Name {i}"})
        assert r.status_code == 200
    # Rows sharing one timestamp must still be split cleanly between pages.
    same = utcnow() - timedelta(minutes=5)
    await ActivityLog.insert(*[
        ActivityLog(id=new_id(), organization=org_id, action="test.tie", resource="test",
                    timestamp=same)
        for _ in range(7)
    ])
    expected = await _settled()
    assert expected == 12 + 7 + 1  # and the registration

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        r = await _list(client, token, **params)
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        assert len(body["items"]) <= 4
        seen += [i["id"] for i in body["items"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
        assert pages < 20
    assert len(seen) == len(set(seen)) == expected
    assert pages == 5
    stamps = [(i["timestamp"], i["id"]) for i in
              (await _list(client, token, limit=200)).json()["items"]]
    assert [s[1] for s in stamps] == seen
    assert stamps == sorted(stamps, reverse=True)


async def test_other_organizations_rows_never_appear(client, server):
    owner = await register(client)
    other = await register_other_org(server)
    other_org = other["user"]["organizationId"]
    r = await client.patch(f"{API}/organizations/{other_org}", json={"name": "Globex 2"},
                           headers=bearer(other["accessToken"]))
    assert r.status_code == 200
    await login(client, other["user"]["email"])
    await _settled()
    theirs = await ActivityLog.count().where(ActivityLog.organization == other_org)
    assert theirs == 2

    page = (await _list(client, owner["accessToken"], limit=200)).json()
    assert page["items"] and all(i["userId"] == owner["user"]["id"] for i in page["items"])
    page = (await _list(client, owner["accessToken"], userId=other["user"]["id"])).json()
    assert page["items"] == []
    page = (await _list(client, owner["accessToken"], resourceId=other_org)).json()
    assert page["items"] == []
    mine = (await _list(client, other["accessToken"], limit=200)).json()
    assert len(mine["items"]) == theirs
