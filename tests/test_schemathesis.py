"""Schemathesis over the whole OpenAPI document, against the real test server.

Every operation gets a bounded number of generated requests: schema-valid ones, sent with
an owner's bearer token and, where the path names rows, the ids of real rows of the
owner's organization (plus a few random ids, for the 404s), and a few schema-invalid ones.
A response fails the test when it is a 5xx other than a 503 the operation documents, when
its status, media type, headers or body break what the document says, or when the server
refuses with 400 a valid request of an operation that checks no more than its schema
says (``SERVER_CHECKS`` lists those that check more, and what).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import requests
import schemathesis
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from schemathesis.core.failures import FailureGroup

from tests.helpers import API, PASSWORD, bearer, register
from tests.support.resources import one_of_each
from wacc.security.limits import per_minute

EXAMPLES = 8  # valid requests per operation with real ids; RANDOM_IDS more with random ones
RANDOM_IDS = 2
INVALID = 3  # schema-invalid requests per operation
CHECKS = [
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
]
# Not negative_data_rejection: the run replaces the generated Authorization header with a
# real token, which turns a request invalid only by that header into a valid one; and a
# query parameter sent twice is read once (Litestar), which the check calls a violation.
# A valid request must be accepted (any status but 400). These operations check what a
# JSON Schema cannot say, so a schema-valid request may still be refused with 400; a new
# operation is held to the rule until it is listed here with its reason.
SERVER_CHECKS = {
    # a phone number, a time zone, an http(s) URL, an e-mail (the pattern's \s differs
    # between Python and JSON Schema), a name trimmed of spaces
    "POST /api/v1/contacts": "phone number", "PATCH /api/v1/contacts/{contactId}": "e-mail",
    "POST /api/v1/whatsapp/sessions/{sessionId}/messages": "phone number",
    "POST /api/v1/conversations": "contactId or phone, a phone number",
    "PUT /api/v1/whatsapp/sessions/{sessionId}/ai-responder": "time zone",
    "POST /api/v1/ai/providers": "installed provider type, URL",
    "PATCH /api/v1/ai/providers/{providerId}": "URL",
    "POST /api/v1/ai/test": "providerId or provider",
    "POST /api/v1/organizations/{orgId}/users": "e-mail",
    "POST /api/v1/tags": "name trimmed of spaces",
    "POST /api/v1/whatsapp/sessions": "installed engine",
    "POST /api/v1/api-keys": "known permission scopes",
    # the password policy (a configurable length, four different characters) and secrets
    "POST /api/v1/auth/register": "password policy",
    "POST /api/v1/auth/password": "the current password",
    "POST /api/v1/auth/password/reset": "a reset token", "GET /api/v1/auth/password/reset/{token}":
        "a reset token",
    "DELETE /api/v1/organizations/{orgId}": "the organization's slug to confirm",
    # the shape of automations, segment conditions, custom field options and variables
    "POST /api/v1/automations": "trigger and actions", "PATCH /api/v1/automations/{automationId}":
        "trigger and actions",
    "POST /api/v1/automations/dry-run": "trigger and actions",
    "POST /api/v1/automations/{automationId}/dry-run": "event, recent or since",
    "POST /api/v1/segments": "conditions", "PATCH /api/v1/segments/{segmentId}": "conditions",
    "POST /api/v1/segments/preview": "conditions",
    "POST /api/v1/custom-fields": "options by field type",
    "PATCH /api/v1/custom-fields/{fieldId}": "options by field type",
    "POST /api/v1/canned-responses/expand": "known variables",
    "POST /api/v1/contacts/{contactId}/merge": "another contact",
    "POST /api/v1/ai/knowledge-base": "content with text",
    # a cursor this API returned, a search with at least one word, a date range
    "GET /api/v1/contacts": "cursor", "GET /api/v1/conversations": "cursor",
    "GET /api/v1/ai/knowledge-base": "cursor",
    "GET /api/v1/segments/{segmentId}/contacts": "cursor",
    "GET /api/v1/automations/{automationId}/executions": "cursor",
    "GET /api/v1/audit-logs": "cursor",
    "GET /api/v1/search/contacts": "a word", "GET /api/v1/search/messages": "a word",
    "GET /api/v1/ai/knowledge-base/search": "a word",
    "GET /api/v1/ai/usage": "from before to, within 366 days",
    # bodies read as they come (a multipart file, a provider's signed JSON)
    "POST /api/v1/contacts/import": "a multipart CSV file",
    "POST /api/v1/ai/knowledge-base/upload": "a multipart file",
    "POST /api/v1/whatsapp/cloud/webhook": "Meta's JSON",
    "POST /api/v1/whatsapp/sessions/{sessionId}/webhook": "the provider's JSON",
}
SKIPPED = {
    # A stream that stays open while the organization lives (tests/test_whatsapp.py
    # reads it with a deadline).
    "GET /api/v1/whatsapp/sessions/events",
    # Ends the run's own sign-in (tests/test_auth.py covers it).
    "POST /api/v1/auth/logout",
}


def server_error(response: Any, documented: set[str]) -> str | None:
    status = response.status_code
    if status >= 500 and not (status == 503 and "503" in documented):
        return f"{status}: {response.text[:300]}"
    return None


def order(operation: Any) -> tuple[int, str]:
    """Deletes last, the organization's own last of all, so rows live while used."""
    if operation.method == "delete":
        return (2 if operation.path.endswith("{orgId}") else 1, operation.path)
    return (0, "")


class Run:
    """The requests of one run, their statuses and the failures found (first of a kind
    per operation)."""

    def __init__(self, base_url: str, email: str) -> None:
        self.base_url, self.email = base_url, email
        self.session = requests.Session()
        self.auth: dict[str, str] = {}
        self.failures: list[str] = []
        self.cases: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()

    def sign_in(self) -> None:
        """Sign in again if an operation ended the sign-in (a password change, say)."""
        me = self.session.get(f"{self.base_url}{API}/auth/me", headers=self.auth)
        if not self.auth or me.status_code == 401:
            r = self.session.post(f"{self.base_url}{API}/auth/login",
                                  json={"email": self.email, "password": PASSWORD})
            self.auth.update(bearer(r.json()["accessToken"]))

    def probe(self, operation: Any) -> Any:
        label = f"{operation.method.upper()} {operation.path}"
        documented = set(operation.definition.raw.get("responses", {}))
        seen: set[str] = set()
        checks = CHECKS if label in SERVER_CHECKS else [*CHECKS, st_checks.positive_data_acceptance]

        def send(case: Any) -> None:
            # Schemathesis fills the security schemes with random values; send the real token.
            case.headers.pop("X-API-Key", None)
            case.headers.update(self.auth)
            response = case.call(base_url=self.base_url, session=self.session)
            self.cases[label] += 1
            self.statuses[response.status_code] += 1
            problem = server_error(response, documented)
            try:
                case.validate_response(response, checks=checks)
            except FailureGroup as exc:
                problem = (problem or str(exc).strip().splitlines()[0]) + "\n" + str(exc)[:1500]
            if problem and problem.splitlines()[0] not in seen:
                seen.add(problem.splitlines()[0])
                self.failures.append(f"{label}: {problem}")

        return send

    def operation(self, operation: Any, ids: dict[str, str]) -> None:
        names = [p.name for p in operation.path_parameters]
        send = self.probe(operation)
        real = {n: ids[n] for n in names if n in ids}
        runs = [(operation.as_strategy(path_parameters=real), EXAMPLES)]
        if names:
            runs.append((operation.as_strategy(), RANDOM_IDS))
        # Invalid input too: it must be refused in the document's terms, never with a 5xx.
        runs.append((operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=real), INVALID))
        for strategy, examples in runs:
            test = hypothesis.settings(
                max_examples=examples, deadline=None, database=None, derandomize=True,
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                suppress_health_check=list(hypothesis.HealthCheck),
            )(hypothesis.given(case=strategy)(send))
            # No invalid request exists for an operation that takes no input.
            with contextlib.suppress(hypothesis.errors.Unsatisfiable):
                test()


def run(base_url: str, document: dict[str, Any], email: str, ids: dict[str, str]) -> Run:
    schema = schemathesis.openapi.from_dict(document)
    done = Run(base_url, email)
    for operation in sorted((r.ok() for r in schema.get_all_operations()), key=order):
        if f"{operation.method.upper()} {operation.path}" not in SKIPPED:
            done.sign_in()
            done.operation(operation, ids)
    return done


async def test_schemathesis_finds_no_server_error_and_no_schema_violation(client, server, wa):
    tokens = await register(client)
    org_id = tokens["user"]["organizationId"]
    await wa()
    ids = await one_of_each(client, tokens["accessToken"], org_id, bearer(tokens["accessToken"]))
    document = (await client.get("/api/docs/openapi.json")).json()
    # The generated requests come faster than the per-user budget: lift it for the run.
    saved = server.app.state["api_rate"]
    server.app.state["api_rate"] = per_minute(1_000_000)
    try:
        outcome = await asyncio.to_thread(run, server.url, document, "owner@example.com", ids)
    finally:
        server.app.state["api_rate"] = saved
    total = sum(outcome.cases.values())
    print(f"schemathesis: {total} cases over {len(outcome.cases)} operations, "
          f"statuses {dict(sorted(outcome.statuses.items()))}")
    assert len(outcome.cases) >= 140
    assert set(SERVER_CHECKS) <= set(outcome.cases), set(SERVER_CHECKS) - set(outcome.cases)
    assert total >= 1000
    if outcome.failures:
        pytest.fail(f"{len(outcome.failures)} failures:\n\n" + "\n\n".join(outcome.failures))
