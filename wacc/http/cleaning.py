"""Text the database cannot keep is cleaned where a request enters, before any handler,
DTO or query sees it (issue 14): NUL characters and lone surrogates, which PostgreSQL
refuses (a 500 from asyncpg) and SQLite would store, so both databases behave alike.

- Path parameters: a NUL becomes U+FFFD, so ``/contacts/%00`` stays a request for one
  contact (a 404) instead of turning into the list route.
- The query string and url-encoded form bodies: ``%00`` is removed. A literal ``%`` is
  always sent as ``%25``, so ``%00`` can only mean NUL. Percent-encoded surrogates decode
  to U+FFFD already (Litestar decodes with ``errors="replace"``).
- JSON bodies: the ``\\u0000`` escape is removed, in the raw bytes, so the body is not
  re-encoded (numbers and key order stay exactly as sent). A raw NUL byte or a lone
  ``\\ud800`` escape is malformed JSON to msgspec and is refused with a 400 already.

Routes that check a signature over the raw body (the engines' webhooks) set
``opt={"raw_body": True}``; their content is cleaned where the engine's events enter the
inbound pipeline instead (wacc/messages/ingest.py). Multipart bodies are left to the
code that reads the file (the CSV importer cleans each cell).
"""

from __future__ import annotations

import re
from typing import Any

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPRequestEvent, Receive, ReceiveMessage, Scope, Send

from wacc.lib.text import REPLACEMENT, has_unstorable

# A ``\u0000`` escape preceded by an even number of backslashes (``\\u0000`` is an
# escaped backslash followed by the text "u0000", which is kept).
_JSON_NUL = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def clean_json_bytes(body: bytes) -> bytes:
    if b"\\u0000" not in body:
        return body
    return _JSON_NUL.sub(rb"\1", body)


def clean_urlencoded(raw: bytes) -> bytes:
    return raw.replace(b"%00", b"") if b"%00" in raw else raw


class TextCleaningMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP, ScopeType.WEBSOCKET)

    def __init__(self, max_buffer: int) -> None:
        # Bodies above this are passed through untouched: the app refuses them (413)
        # before decoding, so holding them here would only cost memory.
        self.max_buffer = max_buffer

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        params = scope.get("path_params")
        if params and any(isinstance(v, str) and has_unstorable(v) for v in params.values()):
            scope["path_params"] = {
                k: _clean_path_value(v) if isinstance(v, str) else v for k, v in params.items()
            }
        query = scope.get("query_string", b"")
        if b"%00" in query:
            scope["query_string"] = clean_urlencoded(query)
        if scope["type"] == ScopeType.HTTP and scope.get("method") in _BODY_METHODS:
            handler = scope.get("route_handler")
            cleaner = _body_cleaner(scope)
            if cleaner is not None and not (handler is not None and handler.opt.get("raw_body")):
                receive = await self._cleaned_receive(scope, receive, cleaner)
        await next_app(scope, receive, send)

    async def _cleaned_receive(self, scope: Scope, receive: Receive,
                               cleaner: Any) -> Receive:
        chunks: list[ReceiveMessage] = []
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunks.append(message)
            if message["type"] != "http.request":
                break
            parts.append(message.get("body", b""))
            size += len(parts[-1])
            if size > self.max_buffer or not message.get("more_body", False):
                break
        complete = (len(chunks) > 0 and chunks[-1]["type"] == "http.request"
                    and not chunks[-1].get("more_body", False) and size <= self.max_buffer)
        if complete:
            body = b"".join(parts)
            cleaned = cleaner(body)
            if cleaned is not body and cleaned != body:
                chunks = [HTTPRequestEvent(type="http.request", body=cleaned, more_body=False)]
                scope["headers"] = [
                    (k, str(len(cleaned)).encode() if k == b"content-length" else v)
                    for k, v in scope.get("headers", [])
                ]
        pending = list(chunks)

        async def replay() -> ReceiveMessage:
            if pending:
                return pending.pop(0)
            return await receive()

        return replay


def _clean_path_value(value: str) -> str:
    return "".join(REPLACEMENT if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch
                   for ch in value)


def _body_cleaner(scope: Scope) -> Any:
    content_type = b""
    for key, value in scope.get("headers", []):
        if key == b"content-type":
            content_type = value.split(b";", 1)[0].strip().lower()
            break
    if content_type == b"multipart/form-data":
        return None
    if content_type == b"application/x-www-form-urlencoded":
        return clean_urlencoded
    # Litestar decodes a handler's ``data`` as JSON whatever the Content-Type says.
    return clean_json_bytes
