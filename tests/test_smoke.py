from tests.helpers import API, bearer, register


async def test_register_and_me(client):
    tokens = await register(client)
    r = await client.get(f"{API}/auth/me", headers=bearer(tokens["accessToken"]))
    assert r.status_code == 200, r.text
    assert r.json()["user"]["email"] == "owner@example.com"
    assert r.json()["user"]["role"] == "OWNER"
