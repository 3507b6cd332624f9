"""A second organization's owner tries every endpoint with the first organization's
ids: every one answers 404, no list shows the first organization's data, and nothing
of the first organization changes. New routes join by existing; a route whose path
parameter or body this test cannot fill makes it fail until it is taught here."""

from __future__ import annotations

from tests.helpers import API, add_member, bearer, register
from tests.routes import api_endpoints, body_type_name
from tests.support.tenancy import second_org
from wacc.ai.tables import AiKnowledgeBase, AiProvider, AiResponder
from wacc.apikeys.tables import ApiKey
from wacc.automations.tables import Automation, AutomationExecution
from wacc.canned.tables import CannedResponse
from wacc.contacts.tables import Contact
from wacc.conversations.tables import (
    Conversation,
    ConversationAssignment,
    ConversationEvent,
    ConversationTag,
    Note,
)
from wacc.customfields.tables import CustomField
from wacc.messages.tables import Message
from wacc.orgs.tables import Organization
from wacc.segments.tables import Segment
from wacc.sessions.tables import WhatsAppSession
from wacc.tags.tables import Tag
from wacc.users.tables import Invite, User

# Valid bodies for request types with required fields (the rest accept {}).
SAMPLE_BODIES = {
    "InviteCreate": {"email": "intruder-invite@example.com", "role": "VIEWER"},
    "ApiKeyCreate": {"name": "k", "scopes": ["read:users"]},
    "OrganizationDelete": {"confirmSlug": "acme"},
    "UserUpdate": {"name": "Renamed by intruder", "role": "VIEWER", "isActive": False},
    "OrganizationUpdate": {"name": "Renamed by intruder"},
    "PairingIn": {"phone": "+15550001111"},
    "SimulateIn": {"action": "logout"},
    "HistoryIn": {"days": 7},
    "MessageSend": {"body": "intruder says hi"},
    "SendToPhone": {"to": "+15550001111", "body": "intruder says hi"},
    "SessionUpdate": {"name": "Renamed by intruder"},
    "TagCreate": {"name": "intruder tag"},
    "TagUpdate": {"name": "Renamed by intruder"},
    "CannedResponseCreate": {"shortcut": "intruder", "content": "intruder says hi"},
    "CannedResponseUpdate": {"content": "Changed by intruder"},
    "ExpandIn": {"text": "hello"},
    "CustomFieldCreate": {"name": "Intruder", "key": "intruder", "type": "TEXT"},
    "CustomFieldUpdate": {"name": "Renamed by intruder"},
    "ContactCreate": {"phoneNumber": "+15550001111"},
    "ContactUpdate": {"name": "Renamed by intruder", "isBlocked": True},
    "ContactTagIn": {"tagId": "00000000-0000-0000-0000-000000000000"},
    "MergeIn": {"otherId": "00000000-0000-0000-0000-000000000000"},
    "ConversationPatch": {"status": "SPAM", "version": 1},
    "AssignIn": {"userIds": ["x"]},
    "UnassignIn": {"userIds": ["x"]},
    "NoteCreate": {"content": "intruder note"},
    "TagAttach": {"tagId": "x"},
    "SnoozeIn": {"until": "2999-01-01T00:00:00+00:00"},
    "SegmentUpdate": {"name": "Renamed by intruder", "conditions": {"all": []}},
    "AiProviderUpdate": {"model": "intruder-model", "enabled": False},
    "ArticleUpdate": {"title": "Renamed by intruder"},
    "ResponderIn": {"enabled": True},
    "RewriteIn": {"text": "intruder draft", "tone": "short"},
}
# Path parameters that are not ids of org-owned rows.
NOT_TENANT_PARAMS = {"token"}
# Query parameters a list needs, chosen to match the first organization's data.
LIST_QUERIES = {
    f"{API}/search/messages": {"q": "customer"},
    f"{API}/search/contacts": {"q": "4155550199"},
    f"{API}/ai/knowledge-base/search": {"q": "secret article"},
}


async def _snapshot():
    return {
        "orgs": await Organization.select(Organization.id, Organization.name).order_by(Organization.id),
        "users": await User.select(User.id, User.name, User.role, User.is_active).order_by(User.id),
        "invites": await Invite.select(Invite.id, Invite.revoked_at).order_by(Invite.id),
        "keys": await ApiKey.select(ApiKey.id, ApiKey.revoked_at).order_by(ApiKey.id),
        "sessions": await WhatsAppSession.select(
            WhatsAppSession.id, WhatsAppSession.name, WhatsAppSession.desired_state).order_by(
            WhatsAppSession.id),
        "messages": await Message.select(Message.id, Message.body).order_by(Message.id),
        "contacts": await Contact.select(Contact.id, Contact.name, Contact.is_blocked).order_by(
            Contact.id),
        "tags": await Tag.select(Tag.id, Tag.name).order_by(Tag.id),
        "canned": await CannedResponse.select(CannedResponse.id, CannedResponse.content).order_by(
            CannedResponse.id),
        "fields": await CustomField.select(CustomField.id, CustomField.name).order_by(
            CustomField.id),
        "conversations": await Conversation.select(
            Conversation.id, Conversation.status, Conversation.version).order_by(Conversation.id),
        "notes": await Note.count(),
        "events": await ConversationEvent.count(),
        "assignments": await ConversationAssignment.count(),
        "conversation_tags": await ConversationTag.count(),
        "segments": await Segment.select(Segment.id, Segment.name).order_by(Segment.id),
        "ai_providers": await AiProvider.select(AiProvider.id, AiProvider.model, AiProvider.enabled)
        .order_by(AiProvider.id),
        "automations": await Automation.select(Automation.id, Automation.name,
                                               Automation.enabled).order_by(Automation.id),
        "executions": await AutomationExecution.count(),
        "articles": await AiKnowledgeBase.select(AiKnowledgeBase.id, AiKnowledgeBase.title)
        .order_by(AiKnowledgeBase.id),
        "responders": await AiResponder.count(),
    }


async def test_other_organization_ids_answer_404_and_change_nothing(client, server):
    a = await register(client)
    a_head = bearer(a["accessToken"])
    a_org = a["user"]["organizationId"]
    member = await add_member(client, a["accessToken"], a_org, "AGENT")
    r = await client.post(f"{API}/organizations/{a_org}/users", headers=a_head,
                          json={"email": "pending@example.com", "role": "VIEWER"})
    invite_id = r.json()["id"]
    r = await client.post(f"{API}/api-keys", headers=a_head,
                          json={"name": "a key", "scopes": ["read:users"]})
    key_id = r.json()["id"]
    r = await client.post(f"{API}/whatsapp/sessions", headers=a_head,
                          json={"name": "A's phone", "connect": False})
    session_id = r.json()["id"]
    r = await client.post(f"{API}/whatsapp/sessions/{session_id}/messages", headers=a_head,
                          json={"to": "+14155550199", "body": "for A's customer"})
    message = r.json()
    tag_id = (await client.post(f"{API}/tags", headers=a_head, json={"name": "a-tag"})).json()["id"]
    canned_id = (await client.post(f"{API}/canned-responses", headers=a_head, json={
        "shortcut": "hello", "content": "A's greeting"})).json()["id"]
    field_id = (await client.post(f"{API}/custom-fields", headers=a_head, json={
        "name": "A field", "key": "a_field", "type": "TEXT"})).json()["id"]
    contact_id = (await client.get(f"{API}/contacts", headers=a_head)).json()["items"][0]["id"]
    import_id = (await client.post(f"{API}/contacts/import", headers=a_head, files={
        "file": ("a.csv", b"phone\n+14155550177\n", "text/csv")})).json()["id"]
    segment_id = (await client.post(f"{API}/segments", headers=a_head, json={
        "name": "A's segment", "conditions": {"all": []}})).json()["id"]
    provider_id = (await client.post(f"{API}/ai/providers", headers=a_head, json={
        "provider": "openai", "name": "A's model", "model": "gpt-4o-mini",
        "apiKey": "sk-a-secret-key-0000"})).json()["id"]
    automation_id = (await client.post(f"{API}/automations", headers=a_head, json={
        "name": "A's automation", "trigger": {"type": "contact.created"},
        "actions": [{"type": "stop"}]})).json()["id"]
    article_id = (await client.post(f"{API}/ai/knowledge-base", headers=a_head, json={
        "title": "A's article", "content": "A's secret article"})).json()["id"]
    execution_id = "a-execution"
    await AutomationExecution.insert(AutomationExecution(
        id=execution_id, automation=automation_id, organization=a_org, status="COMPLETED"))
    ids = {"orgId": a_org, "userId": member["user"]["id"], "inviteId": invite_id, "keyId": key_id,
           "sessionId": session_id, "conversationId": message["conversationId"],
           "messageId": message["id"], "tagId": tag_id, "cannedId": canned_id,
           "fieldId": field_id, "contactId": contact_id, "segmentId": segment_id,
           "importId": import_id, "providerId": provider_id, "automationId": automation_id,
           "executionId": execution_id, "articleId": article_id}
    secrets = [a_org, member["user"]["id"], invite_id, key_id, "owner@example.com",
               "agent@example.com", "pending@example.com", session_id, message["id"],
               "+14155550199", "for A's customer", tag_id, canned_id, field_id, contact_id,
               "A's greeting", "a_field", segment_id, "A's segment", import_id,
               provider_id, "A's model", "sk-a-secret-key-0000", automation_id,
               "A's automation", article_id, "A's article"]

    b_head = bearer(await second_org(client, server))
    before = await _snapshot()
    endpoints = [
        e for e in api_endpoints(server.app)
        if e.permission and e.permission != "authenticated"
        and not (e.params and all(p in NOT_TENANT_PARAMS for p in e.params))
    ]
    walked = 0
    # The walk makes more calls than the API's 100 a minute; the limit is not what is
    # tested here, so it is reset before each call (as test_permissions does).
    limiter = server.app.state["limiter"]
    # Lists first: later, B's own audit log will (rightly) show the ids B tried.
    for endpoint in (e for e in endpoints
                     if not e.params and e.method == "GET" and not e.opt.get("stream")):
        await limiter.storage.reset()
        r = await client.get(endpoint.url({}), headers=b_head,
                             params=LIST_QUERIES.get(endpoint.path, {}))
        assert r.status_code == 200, f"{endpoint}: {r.text}"
        for secret in secrets:
            assert secret not in r.text, f"{endpoint} leaks {secret}"
        walked += 1
    for endpoint in (e for e in endpoints if e.params):
        params = [p for p in endpoint.params if p not in NOT_TENANT_PARAMS]
        missing = [p for p in params if p not in ids]
        assert not missing, f"{endpoint}: teach this test an id for {missing}"
        kwargs = {}
        name = body_type_name(endpoint.body_type)
        if name is not None:
            kwargs["json"] = SAMPLE_BODIES.get(name, {})
        await limiter.storage.reset()
        r = await client.request(endpoint.method, endpoint.url(ids), headers=b_head, **kwargs)
        assert r.status_code == 404, f"{endpoint} with another org's ids: {r.status_code} {r.text}"
        assert r.json()["error"]["code"] == "NOT_FOUND"
        walked += 1
    assert walked >= 12
    assert await _snapshot() == before
