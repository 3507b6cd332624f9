"""A fake of Meta's Graph API for the WhatsApp Cloud API, served over real HTTP.

It speaks Meta's documented formats: the phone number object, ``POST …/messages``
(validated as Meta validates it, tests/fakes/graph_rules.py), media upload, media URL
retrieval and download, the Block Users API and the bearer token check (401, error 190).
Every request is recorded; knobs make the next requests fail (429, 500, any Meta code)
or hang. It also builds signed webhook bodies, as Meta would POST them. It knows nothing
of wacc: a passing test proves the engine agrees with Meta's rules, not with itself.

Strict where Meta is (sources beside each rule): the 24-hour window (131047 for anything
but a template), templates that must exist in that language with the right number of
parameters (132001 / 132000), the upload type list and per-kind size limits, throughput
(130429) and the pair rate limit (131056) when switched on, and media served from ANOTHER
origin (Meta's lookaside.fbsbx.com) that answers 401 without the bearer token. Errors use
Meta's JSON: ``{"error": {"message", "type", "code", "error_subcode"?, "error_data":
{"messaging_product", "details"}, "fbtrace_id"}}`` (Meta's "WhatsApp error codes" reference).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from litestar import Litestar, Request, Response, route
from litestar.params import FromPath

from tests.fakes.graph_rules import (
    KIND_LIMITS,
    MB,
    MEDIA_TYPES,
    META_ERRORS,
    STATIC_STICKER_MAX,
    UPLOAD_TYPES,
    MetaError,
    animated_webp,
    check_content,
    invalid,
)

__all__ = ["META_ERRORS", "UPLOAD_TYPES", "FakeGraphAPI", "MetaError", "inbound", "status"]

# The version tests expect wacc to call by default, and the versions Meta still answers
# (Graph API changelog, "Available Graph API versions", December 2026: v21.0 is available
# until 21 January 2027, v26.0 is the newest one named). Others: error 2500.
API_VERSION = "v26.0"
AVAILABLE_VERSIONS = frozenset({"v21.0", "v22.0", "v23.0", "v24.0", "v25.0", "v26.0"})
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "+1 555-078-3881"
WABA_ID = "102290129340398"
TOKEN = "EAAG-test-token"  # what the fake accepts unless told otherwise
DOWNLOAD_PATH = "/whatsapp_business/attachments/"

@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)  # name -> (filename, data, type)


@dataclass
class _Failure:
    status: int
    code: int
    message: str
    details: str
    hang: bool
    path: str | None  # only requests whose path contains this


class FakeGraphAPI:
    def __init__(self, *, token: str = TOKEN, phone_number_id: str = PHONE_NUMBER_ID,
                 display_phone_number: str = DISPLAY_PHONE_NUMBER,
                 verified_name: str = "Acme Support") -> None:
        self.token = token
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        self.verified_name = verified_name
        self.url = ""
        self.media_url = ""  # the media host: another origin (port), like lookaside.fbsbx.com
        self.requests: list[RecordedRequest] = []
        self.media_requests: list[RecordedRequest] = []
        self.accepted: list[dict[str, Any]] = []  # bodies of sends Meta took, in order
        self.last_inbound: dict[str, float] = {}  # customer digits -> when they last wrote
        self.enforce_window = True
        # (name, language) -> {component type: number of parameters}; every WABA has
        # Meta's sample template hello_world in en_US, with no parameters.
        self.templates: dict[tuple[str, str], dict[str, int]] = {("hello_world", "en_US"): {}}
        self.pair_rate_seconds: float | None = None  # Meta: about 1 message / 6 s per customer
        self.throughput_per_second: int | None = None  # Meta: 80/s by default
        self._last_to: dict[str, float] = {}
        self._sends_this_second: tuple[int, int] = (0, 0)
        self.media: dict[str, tuple[bytes, str]] = {}  # id -> (data, mime type)
        self.blocked: set[str] = set()
        self._failures: deque[_Failure] = deque()
        self._release = asyncio.Event()

    # -- knobs ------------------------------------------------------------------------

    def reset(self) -> None:
        self.requests.clear()
        self.media_requests.clear()
        self.accepted.clear()
        self.media.clear()
        self.blocked.clear()
        self.last_inbound.clear()
        self.enforce_window = True
        self.templates = {("hello_world", "en_US"): {}}
        self.pair_rate_seconds = self.throughput_per_second = None
        self._last_to.clear()
        self._failures.clear()
        self._release.set()  # let any hung request from an earlier test finish
        self._release = asyncio.Event()

    def fail_next(self, n: int = 1, *, status: int = 500, path: str | None = None) -> None:
        """The next *n* requests fail as Meta fails when overloaded: 429 answers with
        the throughput error 130429, anything else with the unknown error 1."""
        code = 130429 if status == 429 else 1
        self._queue(n, status, code, None, "", False, path)

    def error_next(self, code: int, *, status: int = 400, message: str | None = None,
                   details: str = "", path: str | None = None) -> None:
        """The next request fails with Meta error *code* (131047, 131026, 100, …)."""
        self._queue(1, status, code, message, details, False, path)

    def hang_next(self, n: int = 1, *, path: str | None = None) -> None:
        """The next *n* requests get no answer until the test ends (client timeouts)."""
        self._queue(n, 500, 1, None, "", True, path)

    def _queue(self, n: int, status: int, code: int, message: str | None, details: str, hang: bool,
               path: str | None) -> None:
        for _ in range(n):
            title = message or META_ERRORS.get(code, (f"(#{code}) Error", ""))[0]
            self._failures.append(_Failure(status, code, title, details, hang, path))

    def customer_wrote(self, customer: str, timestamp: float | None = None) -> None:
        """A customer's message reached Meta: it opens their 24-hour window."""
        self.last_inbound[customer.lstrip("+")] = time.time() if timestamp is None else timestamp

    def signed_webhook(self, app_secret: str, **kwargs: Any) -> tuple[bytes, dict[str, str]]:
        """As the module's signed_webhook, and Meta now knows these customers wrote."""
        for message in kwargs.get("messages", ()):
            if message.get("from"):
                self.customer_wrote(message["from"], float(message["timestamp"]))
        return signed_webhook(app_secret, **kwargs)

    def add_template(self, name: str, language: str, **params: int) -> None:
        """An approved template; *params* counts the parameters per component
        (``body=2, header=1``)."""
        self.templates[(name, language)] = dict(params)

    def add_media(self, data: bytes, mime_type: str) -> str:
        """Media as a customer would have sent it: returns its id, as a webhook gives it."""
        media_id = str(secrets.randbelow(10**15) + 10**15)
        self.media[media_id] = (data, mime_type)
        return media_id

    def sent(self) -> list[dict[str, Any]]:
        """Bodies of message sends that Meta accepted or refused (not read receipts)."""
        return [r.json for r in self.requests
                if r.path.endswith("/messages") and isinstance(r.json, dict) and "status" not in r.json]

    def calls(self, method: str, suffix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    # -- serving ------------------------------------------------------------------------

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[FakeGraphAPI]:
        """Serve the Graph API and the media host on two free loopback ports in the
        running event loop."""
        graph, graph_task, self.url = await _start(self.app())
        media, media_task, self.media_url = await _start(self.media_app())
        try:
            yield self
        finally:
            self._release.set()
            graph.should_exit = media.should_exit = True
            await graph_task
            await media_task

    def app(self) -> Litestar:
        @route("/{rest:path}", http_method=["GET", "POST", "DELETE"], status_code=200)
        async def handle(request: Request[Any, Any, Any], rest: FromPath[str]) -> Response[Any]:
            return await self._handle(request)

        return Litestar(route_handlers=[handle], openapi_config=None, debug=False)

    def media_app(self) -> Litestar:
        """The media host. Meta: "all media URLs require the access token in the
        Authorization header"; without it the host answers 401 (a plain HTTP refusal,
        not Graph error JSON)."""
        @route("/{rest:path}", http_method=["GET"], status_code=200)
        async def download(request: Request[Any, Any, Any], rest: FromPath[str]) -> Response[Any]:
            recorded = await _record(request)
            self.media_requests.append(recorded)
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return Response(b"", status_code=401)
            failure = self._take_failure("media-host:" + recorded.path, media_host=True)
            if failure is not None:
                return Response(b"", status_code=failure.status)
            return self._download(recorded)

        return Litestar(route_handlers=[download], openapi_config=None, debug=False)

    async def _handle(self, request: Request[Any, Any, Any]) -> Response[Any]:
        recorded = await _record(request)
        self.requests.append(recorded)
        try:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                raise MetaError(401, 190)
            failure = self._take_failure(recorded.path)
            if failure is not None:
                if failure.hang:
                    await asyncio.wait_for(self._release.wait(), 60)
                raise MetaError(failure.status, failure.code, failure.message, failure.details)
            return self._route(recorded)
        except MetaError as exc:
            return exc.response()

    def _take_failure(self, path: str, media_host: bool = False) -> _Failure | None:
        """The first queued failure for *path*; the media host only takes failures
        queued for it by name (``path="media-host:"``)."""
        for failure in self._failures:
            if (failure.path is None and not media_host) or (failure.path and failure.path in path):
                self._failures.remove(failure)
                return failure
        return None

    def _route(self, r: RecordedRequest) -> Response[Any]:
        parts = r.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] not in AVAILABLE_VERSIONS:
            raise MetaError(400, 2500, "Unknown path components", kind="OAuthException")
        obj, edge = parts[1], parts[2] if len(parts) > 2 else None
        if edge is None and r.method == "GET":
            if obj == self.phone_number_id:
                return Response({"display_phone_number": self.display_phone_number,
                                 "verified_name": self.verified_name, "id": obj})
            if obj in self.media:
                data, mime = self.media[obj]
                return Response({"messaging_product": "whatsapp",
                                 "url": f"{self.media_url}{DOWNLOAD_PATH}?mid={obj}&ext={int(time.time())}",
                                 "mime_type": mime, "sha256": hashlib.sha256(data).hexdigest(),
                                 "file_size": len(data), "id": obj})
        if obj != self.phone_number_id:
            raise MetaError(400, 100, f"Unsupported {r.method.lower()} request. Object with ID '{obj}' "
                            "does not exist, cannot be loaded due to missing permissions, or does "
                            "not support this operation", kind="GraphMethodException")
        if edge == "messages" and r.method == "POST":
            return self._messages(r.json)
        if edge == "media" and r.method == "POST":
            return self._upload(r)
        if edge == "block_users" and r.method in ("POST", "DELETE"):
            return self._block(r.json, block=r.method == "POST")
        raise MetaError(400, 100, f"Unsupported {r.method.lower()} request.", kind="GraphMethodException")

    # -- endpoints ------------------------------------------------------------------------

    def _messages(self, body: Any) -> Response[Any]:
        if not isinstance(body, dict):
            raise invalid("The request body must be JSON")
        if body.get("messaging_product") != "whatsapp":
            raise MetaError(400, 100, "(#100) The parameter messaging_product is required.")
        if "status" in body:  # mark as read, maybe with a typing indicator
            if body["status"] != "read" or not isinstance(body.get("message_id"), str):
                raise invalid("status must be 'read' with a message_id")
            indicator = body.get("typing_indicator")
            if indicator is not None and indicator != {"type": "text"}:
                raise invalid("typing_indicator.type must be 'text'")
            return Response({"success": True})
        to = body.get("to")
        if to is None and isinstance(body.get("recipient"), str):
            # Meta's business-scoped user ids: "recipient" names a customer by BSUID (or
            # parent BSUID) when "to", a phone number, is absent; with both, "to" wins.
            if not re.fullmatch(r"[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}", body["recipient"]):
                raise invalid("recipient must be a business-scoped user id")
            to = body["recipient"]
        elif not isinstance(to, str) or not to.lstrip("+").isdigit():
            raise invalid("to must be a phone number")
        if body.get("recipient_type", "individual") != "individual":
            raise invalid("recipient_type must be 'individual'")
        kind = body.get("type", "text")
        content = body.get(kind)
        check_content(kind, content, self.media)
        if "context" in body and not (isinstance(body["context"], dict)
                                      and isinstance(body["context"].get("message_id"), str)):
            raise invalid("context.message_id must be a string")
        digits = to.lstrip("+")
        self._throttle(digits)
        if digits in self.blocked:
            raise MetaError(400, 131026)
        if kind == "template" and isinstance(content, dict):
            self._check_template(content)
        elif self.enforce_window and time.time() - self.last_inbound.get(digits, float("-inf")) >= 86400:
            # Meta: free-form messages only within 24 hours of the customer's last
            # message; anything else but a template fails with 131047.
            raise MetaError(400, 131047)
        if kind in MEDIA_TYPES and isinstance(content, dict) and "id" in content:
            self._check_kind(kind, content["id"])
        self.accepted.append(body)
        message: dict[str, Any] = {"id": "wamid." + secrets.token_urlsafe(24)}
        if kind == "template":
            message["message_status"] = "accepted"
        return Response({"messaging_product": "whatsapp",
                         "contacts": [{"input": to, "wa_id": digits}], "messages": [message]})

    def _throttle(self, digits: str) -> None:
        """Throughput (130429) and the pair rate limit (131056), when switched on."""
        now = time.time()
        if self.throughput_per_second is not None:
            second, count = self._sends_this_second
            count = count + 1 if second == int(now) else 1
            self._sends_this_second = (int(now), count)
            if count > self.throughput_per_second:
                raise MetaError(400, 130429)
        if self.pair_rate_seconds is not None:
            last = self._last_to.get(digits)
            if last is not None and now - last < self.pair_rate_seconds:
                raise MetaError(400, 131056)
            self._last_to[digits] = now

    def _check_template(self, content: dict[str, Any]) -> None:
        """The template must exist in that language (132001, HTTP 404) and get as many
        parameters per component as it has (132000), as Meta checks them."""
        name, language = content["name"], content["language"]["code"]
        expected = self.templates.get((name, language))
        if expected is None:
            raise MetaError(404, 132001, details=f"template name ({name}) does not exist in {language}")
        given: dict[str, int] = {}
        for component in content.get("components") or []:
            if isinstance(component, dict) and isinstance(component.get("type"), str):
                ctype = component["type"].lower()
                given[ctype] = given.get(ctype, 0) + len(component.get("parameters") or [])
        for ctype in sorted(set(expected) | set(given)):
            if given.get(ctype, 0) != expected.get(ctype, 0):
                raise MetaError(400, 132000, details=(
                    f"{ctype}: number of localizable_params ({given.get(ctype, 0)}) does not match "
                    f"the expected number of params ({expected.get(ctype, 0)})"))

    def _check_kind(self, kind: str, media_id: str) -> None:
        """Uploaded media sent as a kind that does not take its type or size: 131053."""
        data, mime = self.media[media_id]
        types, limit = KIND_LIMITS[kind]
        if kind == "sticker" and not animated_webp(data):
            limit = STATIC_STICKER_MAX
        if mime not in types:
            raise MetaError(400, 131053, details=f"Media type {mime} is not supported for {kind}")
        if len(data) > limit:
            raise MetaError(400, 131053, details=f"{kind} file size {len(data)} exceeds the limit {limit}")

    def _upload(self, r: RecordedRequest) -> Response[Any]:
        if r.form.get("messaging_product") != "whatsapp":
            raise MetaError(400, 100, "(#100) The parameter messaging_product is required.")
        if "file" not in r.files:
            raise MetaError(400, 100, "(#100) The parameter file is required.")
        mime = r.form.get("type")
        if not mime or "/" not in mime:
            raise MetaError(400, 100, "(#100) Param type must be a valid MIME type")
        part_type = (r.files["file"][2] or "").split(";")[0].strip().lower()
        if part_type not in UPLOAD_TYPES:
            raise MetaError(400, 100, "(#100) Param file must be a file with one of the following "
                            f"types: {', '.join(UPLOAD_TYPES)}. Received file of type '{part_type}'.")
        if len(r.files["file"][1]) > 100 * MB:
            raise MetaError(400, 131053, details="File size exceeds the 100 MB limit")
        return Response({"id": self.add_media(r.files["file"][1], mime)})

    def _download(self, r: RecordedRequest) -> Response[Any]:
        media = self.media.get(r.query.get("mid", ""))
        if media is None:
            return Response(b"", status_code=404)
        return Response(media[0], media_type=media[1])

    def _block(self, body: Any, *, block: bool) -> Response[Any]:
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            raise MetaError(400, 100, "(#100) The parameter messaging_product is required.")
        users = body.get("block_users")
        if not isinstance(users, list) or not users or not all(isinstance(u, dict) and u.get("user")
                                                               for u in users):
            raise invalid("block_users must list users")
        done = []
        for user in users:
            digits = str(user["user"]).lstrip("+")
            (self.blocked.add if block else self.blocked.discard)(digits)
            done.append({"input": user["user"], "wa_id": digits})
        key = "added_users" if block else "removed_users"
        return Response({"messaging_product": "whatsapp", "block_users": {key: done}})


async def _start(app: Litestar) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None,
                            access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"


async def _record(request: Request[Any, Any, Any]) -> RecordedRequest:
    recorded = RecordedRequest(method=request.method, path=request.url.path,
                               query=dict(request.query_params), headers=dict(request.headers))
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        for key, value in form.multi_items():
            if isinstance(value, str):
                recorded.form[key] = value
            else:
                recorded.files[key] = (value.filename, await value.read(), value.content_type)
    else:
        raw = await request.body()
        if raw:
            try:
                recorded.json = json.loads(raw)
            except ValueError:
                recorded.json = raw
    return recorded


# -- webhooks, as Meta sends them ---------------------------------------------------------


def inbound(kind: str, content: Any, *, sender: str = "16505551234", message_id: str | None = None,
            timestamp: float | None = None, context_id: str | None = None) -> dict[str, Any]:
    """One entry of ``value.messages``: a customer's message of type *kind*."""
    message: dict[str, Any] = {
        "from": sender, "id": message_id or "wamid." + secrets.token_urlsafe(24),
        "timestamp": str(int(timestamp if timestamp is not None else time.time())), "type": kind,
    }
    if context_id:
        message["context"] = {"from": DISPLAY_PHONE_NUMBER.replace(" ", "").replace("-", "").lstrip("+"),
                              "id": context_id}
    if kind == "contacts":
        message["contacts"] = content
    elif content is not None:
        message[kind] = content
    return message


def status(message_id: str, state: str, *, recipient: str = "16505551234",
           timestamp: float | None = None, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One entry of ``value.statuses``: what happened to a message we sent."""
    item: dict[str, Any] = {"id": message_id, "status": state,
                            "timestamp": str(int(timestamp if timestamp is not None else time.time())),
                            "recipient_id": recipient}
    if state != "failed":
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service"}
    if errors:
        item["errors"] = errors
    return item


def webhook_body(*, messages: Iterable[dict[str, Any]] = (), statuses: Iterable[dict[str, Any]] = (),
                 profiles: dict[str, str] | None = None, phone_number_id: str = PHONE_NUMBER_ID,
                 field_name: str = "messages") -> bytes:
    """The JSON Meta POSTs to the webhook: one entry, one change. *profiles* maps wa_id
    to profile name (Meta's ``contacts`` array, present with inbound messages)."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_PHONE_NUMBER.replace(" ", "").replace("-", "")
                     .lstrip("+"), "phone_number_id": phone_number_id},
    }
    if profiles:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id} for wa_id, name in profiles.items()]
    if messages := list(messages):
        value["messages"] = messages
    if statuses := list(statuses):
        value["statuses"] = statuses
    doc = {"object": "whatsapp_business_account",
           "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": field_name}]}]}
    return json.dumps(doc, ensure_ascii=False).encode()


def signature(body: bytes, app_secret: str) -> str:
    """``X-Hub-Signature-256``: HMAC-SHA256 of the raw body with the app secret, in hex."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signed_webhook(app_secret: str, **kwargs: Any) -> tuple[bytes, dict[str, str]]:
    """A webhook body and the headers Meta sends with it."""
    body = webhook_body(**kwargs)
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": signature(body, app_secret)}
