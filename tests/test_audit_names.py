"""The audit log names what a person did (issue 16): working a conversation is logged as
reading, assigning, tagging and noting it, not as "conversation.create"; testing an AI
provider is not creating one; a page view's WebSocket token writes no row. The route
walk keeps new endpoints from falling back to a name their path does not support."""

from __future__ import annotations

import asyncio

from tests.helpers import API, PASSWORD, bearer, register
from tests.routes import api_endpoints
from tests.support.ai import Fakes
from tests.support.whatsapp import connected_session
from tests.ui_support import csrf_headers, ui_login
from wacc.audit.tables import ActivityLog
from wacc.http.middleware import audit_action

_CRUD = (".create", ".update", ".delete")


async def _actions() -> list[str]:
    """The audit rows' actions, oldest first, once the count stops moving (a row is
    written just after its response is sent)."""
    last, stable = -1, 0
    while stable < 3:
        await asyncio.sleep(0.02)
        count = await ActivityLog.count()
        stable = stable + 1 if count == last else 0
        last = count
    rows = await ActivityLog.select(ActivityLog.action).order_by(ActivityLog.timestamp)
    return [r["action"] for r in rows]


async def _new_actions(before: list[str]) -> list[str]:
    after = await _actions()
    assert after[:len(before)] == before
    return after[len(before):]


def test_every_write_is_named_by_what_its_path_does(server):
    """A write named ``X.create|update|delete`` must be a write on X's own path (the last
    word of the path names X): ``POST /ai/test`` as ``ai_provider.create`` or
    ``DELETE /contacts/{id}/tags/{tagId}`` as ``contact.delete`` would say something else
    happened than did. POSTs to an action of an item are named by the action."""
    wrong = []
    for endpoint in api_endpoints(server.app):
        if endpoint.method not in ("POST", "PUT", "PATCH", "DELETE") or endpoint.opt.get("no_audit"):
            continue
        resource = endpoint.opt.get("resource") or "?"
        action = audit_action(endpoint.opt, resource, endpoint.method, endpoint.path)
        words = [p for p in endpoint.path.split("/") if p and not p.startswith("{")]
        word = words[-1].replace("-", "_")
        if action.endswith(_CRUD):
            subject = action.rsplit(".", 1)[0]
            if not (subject.endswith(word) or subject.endswith(word.removesuffix("s"))):
                wrong.append(f"{endpoint} is logged as {action}")
    assert wrong == [], "name these with opt={'audit': ...}:\n" + "\n".join(wrong)
    # The rule itself, on the shapes of the issue.
    assert audit_action({}, "conversation", "POST", "/c/{id:str}/read") == "conversation.read"
    assert audit_action({}, "automation", "POST", "/a/{id}/dry-run") == "automation.dry_run"
    assert audit_action({}, "tag", "POST", "/api/v1/tags") == "tag.create"
    assert audit_action({}, "tag", "DELETE", "/api/v1/tags/{id}") == "tag.delete"
    assert audit_action({"audit": "note.create"}, "conversation", "POST", "/c/{id}/notes") == \
        "note.create"


async def test_working_a_conversation_and_testing_ai_are_named_and_page_views_are_not_logged(
        client, wa, fakes: Fakes):
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    me = tokens["user"]["id"]
    await wa()
    sid, _ = await connected_session(client, head)
    started = await client.post(f"{API}/conversations", headers=head, json={
        "phone": "+14155550166", "sessionId": sid, "message": {"body": "Hello"}})
    assert started.status_code == 201, started.text
    cid = started.json()["conversation"]["id"]
    tag = (await client.post(f"{API}/tags", headers=head, json={"name": "VIP"})).json()
    provider = await client.post(f"{API}/ai/providers", headers=head, json={
        "provider": "openai", "name": "primary", "model": "gpt-4o-mini",
        "apiKey": fakes.openai.key, "baseUrl": fakes.openai.url + "/v1"})
    assert provider.status_code == 201, provider.text

    before = await _actions()
    calls = [
        ("POST", f"/conversations/{cid}/read", None, "conversation.read"),
        ("POST", f"/conversations/{cid}/assign", {"userIds": [me]}, "conversation.assign"),
        ("POST", f"/conversations/{cid}/unassign", {"userIds": [me]}, "conversation.unassign"),
        ("POST", f"/conversations/{cid}/tags", {"tagId": tag["id"]}, "conversation.tag"),
        ("DELETE", f"/conversations/{cid}/tags/{tag['id']}", None, "conversation.untag"),
        ("POST", f"/conversations/{cid}/notes", {"content": "Called back"}, "note.create"),
        ("POST", f"/conversations/{cid}/messages", {"body": "More"}, "message.send"),
        ("POST", "/ai/test", {"providerId": provider.json()["id"]}, "ai_provider.test"),
    ]
    for method, path, body, _ in calls:
        r = await client.request(method, f"{API}{path}", headers=head, json=body)
        assert r.status_code < 300, (path, r.text)
    assert await _new_actions(before) == [action for *_, action in calls]

    # Page views: each asks for a WebSocket token; none of them is an action.
    token = await ui_login(client, "owner@example.com", PASSWORD)
    before = await _actions()
    for _ in range(3):
        assert (await client.get("/inbox")).status_code == 200
        r = await client.post("/ui/socket-token", headers=csrf_headers(token))
        assert r.status_code == 201 and r.json()["token"], r.text
    assert await _new_actions(before) == []
