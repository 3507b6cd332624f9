"""Schemathesis over the whole OpenAPI document, against the real test server.

Every operation gets a bounded number of generated requests (schema-valid ones: the
document must describe what the server accepts), sent with an owner's bearer token and,
where the path names rows, the ids of real rows of the owner's organization (plus a few
random ids, for the 404s), and a few schema-invalid ones that must be refused. A response
fails the test when it is a 5xx other than a 503 the operation documents, when its status,
media type, headers or body break what the document says, or when the server accepts a
request the document calls invalid.
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
    st_checks.negative_data_rejection,
]
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

        def send(case: Any) -> None:
            # Schemathesis fills the security schemes with random values; send the real token.
            case.headers.pop("X-API-Key", None)
            case.headers.update(self.auth)
            response = case.call(base_url=self.base_url, session=self.session)
            self.cases[label] += 1
            self.statuses[response.status_code] += 1
            problem = server_error(response, documented)
            try:
                case.validate_response(response, checks=CHECKS)
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
    assert total >= 1000
    if outcome.failures:
        pytest.fail(f"{len(outcome.failures)} failures:\n\n" + "\n\n".join(outcome.failures))
