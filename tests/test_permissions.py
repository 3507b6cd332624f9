"""Every role against every endpoint, and every API-key scope against every endpoint.

Path ids are random, so an allowed caller gets past the guard and is answered 404 or
400 by the handler, while a caller without the permission is answered 403 by the guard
before anything is read. New endpoints join this test by existing.
"""

from __future__ import annotations

import uuid

from tests.helpers import API, add_member, assert_error, bearer, register
from tests.routes import api_endpoints
from wacc.security.roles import PERMISSIONS, Role


async def _call(client, endpoint, headers):
    values = {p: str(uuid.uuid4()) for p in endpoint.params}
    kwargs = {"json": {}} if endpoint.body_type is not None else {}
    if endpoint.opt.get("stream"):  # an endless stream: the status line is the answer
        async with client.stream(endpoint.method, endpoint.url(values), headers=headers) as r:
            if r.status_code >= 400:
                await r.aread()
            return r
    return await client.request(endpoint.method, endpoint.url(values), headers=headers, **kwargs)


async def test_role_matrix(client, server):
    owner = await register(client)
    org_id = owner["user"]["organizationId"]
    tokens = {Role.OWNER: owner["accessToken"]}
    for role in (Role.ADMIN, Role.MANAGER, Role.AGENT, Role.VIEWER):
        tokens[role] = (await add_member(client, owner["accessToken"], org_id, role.value))[
            "accessToken"]
    # Logging out ends the caller's session, so it goes last.
    endpoints = sorted((e for e in api_endpoints(server.app) if e.permission),
                       key=lambda e: e.opt.get("audit") == "auth.logout")
    assert len(endpoints) >= 15
    checked = 0
    limiter = server.app.state["limiter"]
    for endpoint in endpoints:
        # Each endpoint is called 6 times; the API's 100 a minute would stop the walk.
        await limiter.storage.reset()
        anonymous = await _call(client, endpoint, {})
        assert_error(anonymous, 401, "AUTHENTICATION_ERROR")
        for role, token in tokens.items():
            r = await _call(client, endpoint, bearer(token))
            if endpoint.permission == "authenticated" or role in PERMISSIONS[endpoint.permission][1]:
                assert r.status_code not in (401, 403), f"{role.value} refused {endpoint}: {r.text}"
            else:
                assert_error(r, 403, "AUTHORIZATION_ERROR")
            checked += 1
    assert checked == len(endpoints) * 5


async def test_every_endpoint_declares_a_known_permission(server):
    for endpoint in api_endpoints(server.app):
        if endpoint.opt.get("public"):
            continue
        assert endpoint.permission in (*PERMISSIONS, "authenticated"), (
            f"{endpoint} declares no known permission")


async def test_api_key_scopes_matrix(client, server):
    owner = await register(client)
    head = bearer(owner["accessToken"])
    endpoints = [e for e in api_endpoints(server.app)
                 if e.permission and e.permission != "authenticated"]
    for permission in sorted({e.permission for e in endpoints}):
        r = await client.post(f"{API}/api-keys", headers=head,
                              json={"name": f"only {permission}", "scopes": [permission]})
        assert r.status_code == 201, r.text
        key = {"X-API-Key": r.json()["key"]}
        for endpoint in endpoints:
            await server.app.state["limiter"].storage.reset()
            resp = await _call(client, endpoint, key)
            if endpoint.permission == permission:
                assert resp.status_code not in (401, 403), f"{permission} refused {endpoint}"
            else:
                assert_error(resp, 403, "AUTHORIZATION_ERROR")
