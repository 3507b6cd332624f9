"""The OpenAPI document wacc serves tells the truth: it walks every operation, so a new
route that breaks a rule fails here without anyone remembering to add a case."""

from __future__ import annotations

import re

import jsonschema_rs
import msgspec
import pytest

from tests.helpers import API, assert_error, bearer, register
from tests.routes import api_endpoints
from wacc.security.limits import per_minute

METHODS = {"get", "post", "put", "patch", "delete"}
WRITES = {"post", "put", "patch", "delete"}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
# Routes anyone may call; the document must say ``security: []`` for exactly these.
PUBLIC = {
    "GET /health", "GET /health/ready",
    "POST /api/v1/auth/register", "POST /api/v1/auth/login", "POST /api/v1/auth/login/mfa",
    "POST /api/v1/auth/refresh", "POST /api/v1/auth/password/forgot",
    "GET /api/v1/auth/password/reset/{token}", "POST /api/v1/auth/password/reset",
    "GET /api/v1/auth/invites/{token}", "POST /api/v1/auth/invites/accept",
    "GET /api/v1/whatsapp/sessions/{sessionId}/webhook",
    "POST /api/v1/whatsapp/sessions/{sessionId}/webhook",
    "GET /api/v1/whatsapp/cloud/webhook", "POST /api/v1/whatsapp/cloud/webhook",
    "POST /api/v1/automations/hooks/{token}",
}


@pytest.fixture
async def document(client):
    r = await client.get("/api/docs/openapi.json")
    assert r.status_code == 200
    return r.json()


def operations(document):
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


async def test_no_operation_documents_litestars_error_body(document):
    assert '"status_code"' not in str(document).replace("'", '"')
    bad = []
    for path, method, op in operations(document):
        for status, response in op["responses"].items():
            if int(status) < 400 or (path == "/health/ready" and status == "503"):
                continue
            if response.get("content", {}).get("application/json", {}).get("schema") != ERROR_REF:
                bad.append(f"{method.upper()} {path} {status}")
    assert not bad, bad


async def test_the_error_component_matches_what_the_server_sends(client, document):
    schema = {**document["components"]["schemas"]["Error"],
              "components": document["components"]}  # for the $ref to ErrorDetail
    validator = jsonschema_rs.validator_for(
        {"$ref": "#/components/schemas/Error", "components": document["components"]})
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    samples = [
        (await client.get(f"{API}/contacts/nope", headers=head), 404, "NOT_FOUND"),
        (await client.post(f"{API}/tags", headers=head, json={"name": "x", "extra": 1}),
         400, "VALIDATION_ERROR"),
        (await client.get(f"{API}/tags"), 401, "AUTHENTICATION_ERROR"),
    ]
    for response, status, code in samples:
        assert_error(response, status, code)
        assert validator.is_valid(response.json()), response.text
    assert set(schema["properties"]["error"]["required"]) == {
        "code", "message", "details", "requestId", "timestamp"}
    assert not validator.is_valid({"status_code": 404, "detail": "Not Found"})


async def test_public_routes_need_no_credential_and_the_others_name_both(document, server):
    public = {f"{m.upper()} {p}" for p, m, op in operations(document) if op["security"] == []}
    assert public == PUBLIC
    documented = {f"{m.upper()} {p}" for p, m, _ in operations(document)}
    declared = {str(e) for e in api_endpoints(server.app) if e.opt.get("public")}
    assert declared & documented <= public
    for path, method, op in operations(document):
        if f"{method.upper()} {path}" not in PUBLIC:
            assert op["security"] == [{"bearer": []}, {"apiKey": []}], f"{method} {path}"
            assert {"401", "403"} <= set(op["responses"]), f"{method} {path}"


async def test_every_status_an_operation_can_answer_is_documented(document):
    missing = []
    for path, method, op in operations(document):
        if not path.startswith(API):
            continue
        codes = set(op["responses"])
        need = {"400", "503"}
        if "{" in path or method in WRITES:
            need.add("404")
        if method in WRITES:
            need |= {"409", "413"}
        if not (need <= codes):
            missing.append(f"{method.upper()} {path}: {sorted(need - codes)}")
        for status in ("429", "503"):
            if status in codes:
                assert "Retry-After" in op["responses"][status].get("headers", {}), (path, status)
    assert not missing, missing
    ready = document["paths"]["/health/ready"]["get"]["responses"]
    assert ready["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Readiness"}


async def test_request_bodies_refuse_unknown_fields_exactly_when_the_server_does(document, server):
    components = document["components"]["schemas"]
    checked = 0
    for endpoint in api_endpoints(server.app):
        tp = endpoint.body_type
        args = getattr(tp, "__args__", None)
        if args:  # Optional[X]
            tp = next(a for a in args if a is not type(None))
        if not (isinstance(tp, type) and issubclass(tp, msgspec.Struct)):
            continue
        component = components[tp.__name__]
        forbids = msgspec.inspect.type_info(tp).forbid_unknown_fields
        assert (component.get("additionalProperties") is False) == forbids, tp.__name__
        checked += 1
    assert checked > 50


async def test_request_body_bounds_are_the_ones_the_server_enforces(document):
    # Litestar dropped a bound of 0 and every constraint on list items; a body the
    # document allowed was refused.
    components = document["components"]["schemas"]
    priority = components["AiProviderUpdate"]["properties"]["priority"]
    assert priority["minimum"] == 0
    user_ids = components["AssignIn"]["properties"]["userIds"]
    assert user_ids["items"]["minLength"] == 1
    snooze = components["SnoozeIn"]["properties"]["until"]
    assert snooze == {"type": "string", "format": "date-time"}


async def test_a_503_says_when_to_retry(client):
    tokens = await register(client)
    head = bearer(tokens["accessToken"])
    r = await client.post(f"{API}/whatsapp/sessions", headers=head,
                          json={"name": "Idle", "connect": False})
    # The session is not running in any wa process: its webhook is unavailable for now.
    r = await client.get(f"{API}/whatsapp/sessions/{r.json()['id']}/webhook")
    assert_error(r, 503, "SERVICE_UNAVAILABLE")
    assert int(r.headers["retry-after"]) > 0


async def test_405_and_options_name_every_method_of_the_path(client, document, server):
    """Litestar answered OPTIONS on a path served by handlers registered apart
    (``/contacts/{contactId}``) with the methods of one of them only."""
    server.app.state["api_rate"] = per_minute(1_000_000)  # ~300 requests from one IP
    try:
        wrong = await _allow_mismatches(client, document)
    finally:
        server.app.state["api_rate"] = per_minute(server.settings.security.rate_limit_per_minute)
    assert not wrong, wrong


async def _allow_mismatches(client, document):
    wrong = []
    for path, item in document["paths"].items():
        methods = {m.upper() for m in item if m in METHODS}
        url = re.sub(r"\{\w+\}", "x", path)
        others = sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - methods)
        for method, expected in [("OPTIONS", 204), *((m, 405) for m in others[:1])]:
            r = await client.request(method, url)
            allow = {a.strip() for a in r.headers.get("allow", "").split(",")} - {"", "OPTIONS"}
            if r.status_code != expected or allow != methods:
                wrong.append(f"{method} {path}: {r.status_code} Allow {sorted(allow)}")
    return wrong
