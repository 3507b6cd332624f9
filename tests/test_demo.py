"""Demo mode: `wacc demo` seeds a realistic organization on the test database, once.

The command runs as a real `wacc` process against the session server's database; what
it made is read back over HTTP as the demo owner sees it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import phonenumbers

from tests.support.env import server_env
from tests.ui_support import ui_login
from wacc.demo import data


def wacc(data_dir: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WACC_")}
    env.update(server_env(data_dir, database_url))
    return subprocess.run([sys.executable, "-m", "wacc.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login",
                                 json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['accessToken']}"}


async def snapshot(client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    """Everything the demo owner can see that the seed made."""
    async def get(path: str) -> Any:
        response = await client.get(f"/api/v1{path}", headers=auth)
        assert response.status_code == 200, f"{path}: {response.text}"
        return response.json()

    me = await get("/auth/me")
    org_id = me["organizationId"]
    conversations = (await get("/conversations?limit=100"))["items"]
    messages = {c["contact"]["name"]: (await get(f"/conversations/{c['id']}/messages"))["items"]
                for c in conversations}
    notes = {c["contact"]["name"]: await get(f"/conversations/{c['id']}/notes")
             for c in conversations}
    return {
        "org": await get(f"/organizations/{org_id}"),
        # Signing in changes lastLoginAt, not who the users are.
        "users": [{k: v for k, v in u.items() if k != "lastLoginAt"}
                  for u in await get(f"/organizations/{org_id}/users")],
        "sessions": await get("/whatsapp/sessions"),
        "contacts": (await get("/contacts?limit=100"))["items"],
        "conversations": conversations, "messages": messages, "notes": notes,
        "tags": await get("/tags"), "canned": await get("/canned-responses"),
        "fields": await get("/custom-fields"), "automations": await get("/automations"),
    }


async def test_demo_seeds_once_and_signs_in(client: httpx.AsyncClient, data_dir: Path,
                                            database_url: str) -> None:
    out = ok(wacc(data_dir, database_url, "demo"))
    assert "created organization 'Demo Coffee Co.' (slug demo)" in out
    assert data.OWNER_EMAIL in out and data.PASSWORD in out

    auth = await login(client, data.OWNER_EMAIL, data.PASSWORD)
    seen = await snapshot(client, auth)
    assert (seen["org"]["name"], seen["org"]["slug"]) == ("Demo Coffee Co.", "demo")
    assert sorted((u["email"], u["role"]) for u in seen["users"]) == [
        (data.AGENT_EMAIL, "AGENT"), (data.OWNER_EMAIL, "OWNER")]
    [session] = seen["sessions"]
    assert (session["name"], session["engine"]) == ("Shop phone", "simulator")
    # Paired while seeding; the wa role connects it when wacc runs.
    assert session["desiredState"] == "CONNECTED"
    assert session["phoneNumber"] == data.SESSION_PHONE

    assert sorted(t["name"] for t in seen["tags"]) == ["complaint", "lead", "order", "vip"]
    assert sorted(c["shortcut"] for c in seen["canned"]) == ["hours", "menu", "thanks"]
    tier = next(f for f in seen["fields"] if f["key"] == "loyalty_tier")
    assert (tier["type"], tier["options"]) == ("SELECT", ["Bronze", "Silver", "Gold"])
    [automation] = seen["automations"]
    assert automation["enabled"] and automation["trigger"]["keywords"] == ["hours"]

    contacts = {c["name"]: c for c in seen["contacts"]}
    assert len(contacts) == 8
    for contact in contacts.values():
        assert phonenumbers.is_possible_number(phonenumbers.parse(contact["phoneNumber"]))
    tag_names = {t["id"]: t["name"] for t in seen["tags"]}
    maya = contacts["Maya Thompson"]
    assert maya["customFields"] == {"loyalty_tier": "Gold", "favourite_drink": "Oat flat white"}
    assert maya["email"] == "maya.thompson@example.com"
    assert [tag_names[t] for t in maya["tags"]] == ["vip"]
    assert [tag_names[t] for t in contacts["Noah Fischer"]["tags"]] == ["lead"]

    conversations = {c["contact"]["name"]: c for c in seen["conversations"]}
    assert len(conversations) == 6
    assert {c["status"] for c in conversations.values()} == {"OPEN", "PENDING", "RESOLVED"}
    agent_id = next(u["id"] for u in seen["users"] if u["role"] == "AGENT")
    assert conversations["Liam O'Connor"]["assignees"] == [agent_id]
    assert [t["name"] for t in conversations["Liam O'Connor"]["tags"]] == ["complaint"]
    assert not conversations["Kenji Watanabe"]["assignees"]  # left for the automation

    messages = seen["messages"]
    inbound = [m for ms in messages.values() for m in ms if m["direction"] == "INBOUND"]
    replies = [m for ms in messages.values() for m in ms if m["direction"] == "OUTBOUND"]
    assert len(inbound) == 12 and len(replies) == 4
    # Customers' messages came through the simulator into the inbound pipeline.
    assert {m["type"] for m in inbound} == {"TEXT", "IMAGE", "LOCATION", "CONTACT"}
    assert all(m["whatsappMessageId"].startswith("DEMO") for m in inbound)
    image = next(m for m in inbound if m["type"] == "IMAGE")
    assert image["mediaMimeType"] == "image/png" and image["mediaUrl"]
    # Replies wait for the wa role: queued like any reply from the inbox, sent by their author.
    assert {m["status"] for m in replies} == {"PENDING"}
    assert {m["metadata"]["sentBy"] for m in replies} <= {u["id"] for u in seen["users"]}
    assert sum(len(n) for n in seen["notes"].values()) == 1

    # The agent can sign in too.
    agent = await login(client, data.AGENT_EMAIL, data.PASSWORD)
    assert (await client.get("/api/v1/auth/me", headers=agent)).status_code == 200

    # A visitor signing in to the web UI sees a full inbox at once.
    await ui_login(client, data.OWNER_EMAIL, data.PASSWORD)
    inbox = await client.get("/inbox", headers={"Accept": "text/html"})
    assert inbox.status_code == 200
    for name in ("Maya Thompson", "Kenji Watanabe", "Lucas"):  # the open ones
        assert name in inbox.text
    client.cookies.clear()

    # Twice: nothing new, and it says so.
    again = ok(wacc(data_dir, database_url, "demo"))
    assert "exists already; nothing changed" in again
    assert await snapshot(client, auth) == seen


async def test_demo_refuses_a_taken_email_and_leaves_nothing(
        client: httpx.AsyncClient, data_dir: Path, database_url: str) -> None:
    registered = await client.post("/api/v1/auth/register", json={
        "organizationName": "Elsewhere", "name": "Someone", "email": data.OWNER_EMAIL,
        "password": "another long passphrase"})
    assert registered.status_code == 201, registered.text
    result = wacc(data_dir, database_url, "demo")
    assert result.returncode == 1
    assert result.stderr.strip() == ("Error: A user with this e-mail already exists "
                                     "(email: already registered)")
    listed = ok(wacc(data_dir, database_url, "org", "list")).splitlines()
    assert [line.split()[0] for line in listed[1:]] == ["elsewhere"]  # no half-made demo


def test_run_demo_is_for_the_supervisor(tmp_path: Path) -> None:
    result = wacc(tmp_path, f"sqlite:///{tmp_path / 'wacc.db'}", "run", "--demo", "--role", "web")
    assert result.returncode == 2
    assert "--demo" in result.stderr and "wacc demo" in result.stderr
    assert not (tmp_path / "wacc.db").exists()
