"""One of each kind of row an organization holds, for walks over every route."""

from __future__ import annotations

from typing import Any

from tests.helpers import API, add_member


async def one_of_each(client: Any, token: str, org_id: str, head: dict[str, str]) -> dict[str, str]:
    """Create a member, an invite, an API key, a session with a message, a tag, a canned
    response, a custom field, a contact, an import, a segment, an AI provider, an
    automation and a knowledge-base article; return their ids by path-parameter name."""
    member = await add_member(client, token, org_id, "AGENT")

    async def post(path: str, **kwargs: Any) -> dict[str, Any]:
        r = await client.post(f"{API}{path}", headers=head, **kwargs)
        assert r.status_code in (200, 201, 202), f"{path}: {r.text}"
        return r.json()

    invite = await post(f"/organizations/{org_id}/users",
                        json={"email": "pending@example.com", "role": "VIEWER"})
    key = await post("/api-keys", json={"name": "a key", "scopes": ["read:users"]})
    session = await post("/whatsapp/sessions", json={"name": "A phone", "connect": False})
    message = await post(f"/whatsapp/sessions/{session['id']}/messages",
                         json={"to": "+14155550199", "body": "hello"})
    contact = (await client.get(f"{API}/contacts", headers=head)).json()["items"][0]
    return {
        "orgId": org_id, "userId": member["user"]["id"], "inviteId": invite["id"],
        "keyId": key["id"], "sessionId": session["id"],
        "conversationId": message["conversationId"], "messageId": message["id"],
        "contactId": contact["id"],
        "tagId": (await post("/tags", json={"name": "a-tag"}))["id"],
        "cannedId": (await post("/canned-responses", json={
            "shortcut": "hello", "content": "A greeting"}))["id"],
        "fieldId": (await post("/custom-fields", json={
            "name": "A field", "key": "a_field", "type": "TEXT"}))["id"],
        "importId": (await post("/contacts/import", files={
            "file": ("a.csv", b"phone\n+14155550177\n", "text/csv")}))["id"],
        "segmentId": (await post("/segments", json={
            "name": "A segment", "conditions": {"all": []}}))["id"],
        "providerId": (await post("/ai/providers", json={
            "provider": "openai", "name": "A model", "model": "gpt-4o-mini",
            # Nothing listens on port 9: no request leaves the machine.
            "apiKey": "sk-a-secret-key-0000", "baseUrl": "http://127.0.0.1:9/v1"}))["id"],
        "automationId": (await post("/automations", json={
            "name": "An automation", "trigger": {"type": "contact.created"},
            "actions": [{"type": "stop"}]}))["id"],
        "articleId": (await post("/ai/knowledge-base", json={
            "title": "An article", "content": "Shipping takes two days."}))["id"],
    }
