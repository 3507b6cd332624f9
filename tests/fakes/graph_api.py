"""A fake of Meta's Graph API for the WhatsApp Cloud API, served over real HTTP.

It speaks Meta's documented formats: the phone number object, ``POST …/messages``
(validated the way Meta validates it, answering with Meta's error JSON when a field
is wrong), media upload (multipart), media URL retrieval and download, the Block
Users API, and the bearer token check (401 with error 190). Every request is
recorded for assertions, and knobs make the next requests fail (429, 500, any Meta
error code) or hang. It also builds signed webhook bodies, as Meta would POST them.

It knows nothing of wacc: the signature is computed here independently, so a test
that passes proves the engine agrees with Meta's rules, not with itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from litestar import Litestar, Request, Response, route

API_VERSION = "v21.0"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "+1 555-078-3881"
WABA_ID = "102290129340398"
TOKEN = "EAAG-test-token"  # what the fake accepts unless told otherwise
DOWNLOAD_PATH = "/whatsapp_business/attachments/"

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
CAPTIONED = ("image", "video", "document")
INTERACTIVE_TYPES = ("button", "list", "cta_url", "product", "product_list", "flow",
                     "location_request_message")

# Meta's error titles for the codes tests provoke, with the details Meta adds.
META_ERRORS: dict[int, tuple[str, str]] = {
    1: ("An unknown error has occurred.", ""),
    100: ("(#100) Invalid parameter", "Parameter value is not valid"),
    130429: ("(#130429) Rate limit hit", "Cloud API message throughput has been reached."),
    131026: ("(#131026) Message undeliverable",
             "Unable to deliver message. The recipient may not be a WhatsApp user."),
    131047: ("(#131047) Re-engagement message",
             "Message failed to send because more than 24 hours have passed since the "
             "customer last replied to this number."),
    190: ("Invalid OAuth access token - Cannot parse access token", ""),
}


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


class MetaError(Exception):
    def __init__(self, status: int, code: int, message: str | None = None, details: str = "",
                 kind: str = "OAuthException") -> None:
        title, default_details = META_ERRORS.get(code, (f"(#{code}) Error", ""))
        super().__init__(message or title)
        self.status, self.code, self.kind = status, code, kind
        self.message = message or title
        self.details = details or default_details

    def response(self) -> Response[Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.kind, "code": self.code,
                                 "fbtrace_id": "A" + secrets.token_hex(10)}
        if self.details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        return Response(content={"error": error}, status_code=self.status)


def invalid(details: str) -> MetaError:
    return MetaError(400, 100, details=details)


class FakeGraphAPI:
    def __init__(self, *, token: str = TOKEN, phone_number_id: str = PHONE_NUMBER_ID,
                 display_phone_number: str = DISPLAY_PHONE_NUMBER,
                 verified_name: str = "Acme Support") -> None:
        self.token = token
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        self.verified_name = verified_name
        self.url = ""
        self.requests: list[RecordedRequest] = []
        self.media: dict[str, tuple[bytes, str]] = {}  # id -> (data, mime type)
        self.blocked: set[str] = set()
        self._failures: deque[_Failure] = deque()
        self._release = asyncio.Event()

    # -- knobs ------------------------------------------------------------------------

    def reset(self) -> None:
        self.requests.clear()
        self.media.clear()
        self.blocked.clear()
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
        """Serve on a free loopback port in the running event loop."""
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=0, lifespan="off",
                                log_config=None, access_log=False)
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        try:
            yield self
        finally:
            self._release.set()
            server.should_exit = True
            await task

    def app(self) -> Litestar:
        @route("/{rest:path}", http_method=["GET", "POST", "DELETE"], status_code=200)
        async def handle(request: Request[Any, Any, Any], rest: str) -> Response[Any]:
            return await self._handle(request)

        return Litestar(route_handlers=[handle], openapi_config=None, debug=False)

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

    def _take_failure(self, path: str) -> _Failure | None:
        for failure in self._failures:
            if failure.path is None or failure.path in path:
                self._failures.remove(failure)
                return failure
        return None

    def _route(self, r: RecordedRequest) -> Response[Any]:
        if r.path.rstrip("/") == DOWNLOAD_PATH.rstrip("/") and r.method == "GET":
            return self._download(r)
        parts = r.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != API_VERSION:
            raise MetaError(400, 2500, "Unknown path components", kind="OAuthException")
        obj, edge = parts[1], parts[2] if len(parts) > 2 else None
        if edge is None and r.method == "GET":
            if obj == self.phone_number_id:
                return Response({"display_phone_number": self.display_phone_number,
                                 "verified_name": self.verified_name, "id": obj})
            if obj in self.media:
                data, mime = self.media[obj]
                return Response({"messaging_product": "whatsapp",
                                 "url": f"{self.url}{DOWNLOAD_PATH}?mid={obj}&ext={int(time.time())}",
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
        if not isinstance(to, str) or not to.lstrip("+").isdigit():
            raise invalid("to must be a phone number")
        if body.get("recipient_type", "individual") != "individual":
            raise invalid("recipient_type must be 'individual'")
        kind = body.get("type", "text")
        content = body.get(kind)
        _check_content(kind, content, self.media)
        if "context" in body and not (isinstance(body["context"], dict)
                                      and isinstance(body["context"].get("message_id"), str)):
            raise invalid("context.message_id must be a string")
        digits = to.lstrip("+")
        if digits in self.blocked:
            raise MetaError(400, 131026)
        message: dict[str, Any] = {"id": "wamid." + secrets.token_urlsafe(24)}
        if kind == "template":
            message["message_status"] = "accepted"
        return Response({"messaging_product": "whatsapp",
                         "contacts": [{"input": to, "wa_id": digits}], "messages": [message]})

    def _upload(self, r: RecordedRequest) -> Response[Any]:
        if r.form.get("messaging_product") != "whatsapp":
            raise MetaError(400, 100, "(#100) The parameter messaging_product is required.")
        if "file" not in r.files:
            raise MetaError(400, 100, "(#100) The parameter file is required.")
        mime = r.form.get("type")
        if not mime or "/" not in mime:
            raise MetaError(400, 100, "(#100) Param type must be a valid MIME type")
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


def _check_content(kind: str, content: Any, media: dict[str, Any]) -> None:
    """Meta's checks on the type-specific object of a send."""
    if kind == "contacts":
        if not isinstance(content, list) or not content:
            raise invalid("contacts must be a non-empty list")
        for contact in content:
            name = contact.get("name") if isinstance(contact, dict) else None
            if not isinstance(name, dict) or not name.get("formatted_name"):
                raise invalid("contacts[].name.formatted_name is required")
            if not any(name.get(k) for k in ("first_name", "last_name", "middle_name", "suffix", "prefix")):
                raise invalid("contacts[].name needs at least one of first_name, last_name, …")
        return
    if not isinstance(content, dict):
        raise invalid(f"the '{kind}' object is required for type {kind}")
    if kind == "text":
        text = content.get("body")
        if not isinstance(text, str) or not text or len(text) > 4096:
            raise invalid("text.body is required (at most 4096 characters)")
        if not isinstance(content.get("preview_url", False), bool):
            raise invalid("text.preview_url must be a boolean")
    elif kind in MEDIA_TYPES:
        if ("id" in content) == ("link" in content):
            raise invalid(f"{kind} needs exactly one of id or link")
        if "id" in content and content["id"] not in media:
            raise MetaError(400, 131053, "(#131053) Media upload error", "Media id not found")
        if "caption" in content and kind not in CAPTIONED:
            raise invalid(f"{kind} does not take a caption")
    elif kind == "location":
        if not all(isinstance(content.get(k), int | float) for k in ("latitude", "longitude")):
            raise invalid("location.latitude and location.longitude are required numbers")
    elif kind == "reaction":
        if not isinstance(content.get("message_id"), str) or not isinstance(content.get("emoji"), str):
            raise invalid("reaction.message_id and reaction.emoji are required")
    elif kind == "template":
        language = content.get("language")
        if not content.get("name") or not (isinstance(language, dict) and language.get("code")):
            raise invalid("template.name and template.language.code are required")
    elif kind == "interactive":
        if content.get("type") not in INTERACTIVE_TYPES or not isinstance(content.get("action"), dict):
            raise invalid("interactive.type and interactive.action are required")
    else:
        raise invalid(f"type '{kind}' is not a valid message type")


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
