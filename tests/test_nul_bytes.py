"""Text PostgreSQL refuses (U+0000, lone surrogates) is cleaned at the boundary (issue 14):
the requests that answered 500 on PostgreSQL now answer a 4xx or a clean result, every
route survives a NUL in its path and query parameters, and a customer's message with a
NUL is stored without it. Runs on SQLite and PostgreSQL alike (WACC_TEST_DATABASE_URL)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
from litestar.routes import HTTPRoute

from tests.helpers import API, PASSWORD, bearer, register
from tests.support.contacts import finished, upload
from tests.support.polling import until
from tests.support.whatsapp import CUSTOMER, connected_session, simulate
from tests.ui_support import csrf_headers, ui_login
from wacc.contacts.tables import Contact
from wacc.http.cleaning import clean_json_bytes, clean_urlencoded
from wacc.lib.text import clean_text, clean_value
from wacc.messages.tables import Message
from wacc.security.limits import per_minute
from wacc.tags.tables import Tag

NUL = "\x00"


def test_clean_text_drops_nul_and_replaces_lone_surrogates():
    assert clean_text("a\x00b") == "ab"
    assert clean_text("x\ud800y\udfffz") == "x\ufffdy\ufffdz"
    ok = "plain text, émoji 😀"
    assert clean_text(ok) is ok
    nested = {"k\x00": ["a\x00", ("b", "c\x00")], "n": 1}
    assert clean_value(nested) == {"k": ["a", ("b", "c")], "n": 1}
    same = {"a": ["b"]}
    assert clean_value(same) is same


def test_json_nul_escape_removed_but_escaped_backslash_kept():
    assert clean_json_bytes(b'{"a":"x\\u0000y"}') == b'{"a":"xy"}'
    # "\\u0000" is a backslash followed by the text u0000: kept as sent.
    assert clean_json_bytes(b'{"a":"\\\\u0000"}') == b'{"a":"\\\\u0000"}'
    assert clean_json_bytes(b'{"a":"\\\\\\u0000"}') == b'{"a":"\\\\"}'
    assert clean_urlencoded(b"a=%00b&c=%2500") == b"a=b&c=%2500"


async def test_listed_requests_answer_4xx_or_a_clean_result(client: httpx.AsyncClient):
    owner = await register(client)
    head = bearer(owner["accessToken"])

    r = await client.get(f"{API}/contacts/%00", headers=head)
    assert r.status_code == 404, r.text
    r = await client.get(f"{API}/conversations", headers=head, params={"tagId": NUL})
    assert (r.status_code < 500 and r.status_code != 200) or r.json()["items"] == [], r.text
    r = await client.get(f"{API}/search/messages", headers=head, params={"q": f"a{NUL}b"})
    assert r.status_code < 500, r.text
    r = await client.get(f"{API}/search/messages", headers=head, params={"q": NUL})
    assert r.status_code < 500, r.text

    r = await client.post(f"{API}/tags", headers=head, json={"name": f"a{NUL}b"})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "ab"
    assert [t["name"] for t in await Tag.select(Tag.name)] == ["ab"]

    r = await client.post(f"{API}/auth/login",
                          json={"email": f"owner{NUL}@example.com", "password": PASSWORD})
    # Cleaned to the real address: the right password signs in, as without the NUL.
    assert r.status_code == 200, r.text
    r = await client.post(f"{API}/auth/login",
                          json={"email": f"nobody{NUL}@example.com", "password": PASSWORD})
    assert r.status_code == 401, r.text
    # A NUL inside a JSON body sent as text/plain is cleaned the same way.
    r = await client.post(f"{API}/tags", headers={**head, "Content-Type": "text/plain"},
                          content=b'{"name": "c\\u0000d"}')
    assert r.status_code in (201, 400, 415), r.text
    assert r.status_code != 201 or r.json()["name"] == "cd"

    await ui_login(client, "owner@example.com", PASSWORD)
    r = await client.get("/ui/inbox/media/%00")
    assert 400 <= r.status_code < 500, r.text


def _query_names(handler: Any, path_params: set[str]) -> list[str]:
    names = []
    for name, param in handler.parsed_fn_signature.parameters.items():
        if name in path_params or name in ("data", "request", "self", "socket", "state",
                                           "scope", "headers", "cookies"):
            continue
        definition = param.kwarg_definition
        alias = getattr(definition, "query", None)
        if getattr(definition, "header", None) or getattr(definition, "cookie", None):
            continue
        names.append(alias or name)
    return names


@pytest.fixture
def no_rate_limit(server):
    """The walk makes hundreds of API calls; at the default 100 a minute most would be
    answered 429 before reaching a handler, and prove nothing."""
    original = server.app.state["api_rate"]
    server.app.state["api_rate"] = per_minute(1_000_000)
    yield
    server.app.state["api_rate"] = original


async def test_every_route_survives_nul_in_path_and_query(client: httpx.AsyncClient, server,
                                                          no_rate_limit):
    owner = await register(client)
    head = bearer(owner["accessToken"])
    csrf = await ui_login(client, "owner@example.com", PASSWORD)
    walked, failures, statuses = 0, [], Counter()
    for route in server.app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith("/static"):
            continue
        params = {p["name"] for p in route.path_parameters} if isinstance(
            route.path_parameters, list) else set(route.path_parameters)
        for handler in route.route_handlers:
            if handler.opt.get("stream"):
                continue
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                if not params and method != "GET":
                    continue  # writes without ids are walked with bodies elsewhere
                path = route.path_format
                for name in params:
                    path = path.replace("{" + name + "}", "x%00y")
                query = {q: f"a{NUL}b" for q in _query_names(handler, params)}
                ui = not path.startswith(API)
                headers = csrf_headers(csrf) if ui else head
                kwargs: dict[str, Any] = {}
                if method in ("POST", "PUT", "PATCH"):
                    kwargs["json"] = {"name": f"a{NUL}b"}
                r = await client.request(method, path, params=query, headers=headers, **kwargs)
                walked += 1
                statuses[r.status_code] += 1
                # /health/ready answers 503 by design here: no worker runs in this test.
                if r.status_code >= 500 and route.path != "/health/ready":
                    failures.append(f"{method} {route.path}: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)
    assert walked > 100
    assert statuses[429] == 0 and statuses[401] == 0, statuses  # every call reached its route


async def test_customer_message_with_nul_is_stored_cleaned(client: httpx.AsyncClient, wa):
    owner = await register(client)
    head = bearer(owner["accessToken"])
    await wa()
    sid, _ = await connected_session(client, head)
    await simulate(client, head, sid, "message", phone=CUSTOMER, name=f"Carla{NUL} C",
                   body=f"hello{NUL} there", id="NUL1")

    async def stored():
        return await Message.select(Message.body).where(Message.whatsapp_message_id == "NUL1")

    rows = await until(stored)
    assert rows[0]["body"] == "hello there"
    contact = await Contact.select(Contact.name).where(Contact.phone_number == CUSTOMER).first()
    assert contact is not None and contact["name"] == "Carla C"


async def test_csv_import_with_nul_stores_clean_cells(client: httpx.AsyncClient, worker):
    owner = await register(client)
    head = bearer(owner["accessToken"])
    data = b"na\x00me,phone\nAn\x00na,+4930111111\n"
    r = await upload(client, head, data)
    assert r.status_code == 202, r.text
    done = await finished(client, head, r.json()["id"])
    assert (done["created"], done["failed"]) == (1, 0), done
    rows = await Contact.select(Contact.name).where(Contact.phone_number == "+4930111111")
    assert rows == [{"name": "Anna"}]
