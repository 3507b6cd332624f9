"""The OpenAPI document, made true to what the server does.

Litestar documents each handler's 400 as its own ``{status_code, detail, extra}`` body,
documents no other error, marks every operation with the app-wide security, and loses
some of the constraints msgspec enforces on request bodies. wacc answers every error in
the seed's format (wacc/http/errors.py), from middleware and guards as well as handlers,
so the document is completed here, in one place, from what every route shares:

- 400 for every API operation; 401 and 403 for one that needs a caller;
- 404 for one with a path parameter or a query parameter naming a row (``...Id``), and
  404 and 409 for a write (bodies name other rows);
- 413 for a write (no API route answers 415: a body of another media type is read as
  the route reads it and refused with 400 if it does not parse);
- 429 (with Retry-After) under the API rate limit; 503 (with Retry-After) for one that
  reads the database, which is every API operation.

A public route that checks a credential of its own names the extra statuses in its
``opt={"errors": (...)}``; a route that answers other media types than JSON names them
in ``opt={"also_returns": (...)}``. Public routes say ``security: []``; the others name
the bearer token and the API key. Request bodies are described as msgspec validates
them (``align_request_schemas``). ``tests/test_openapi.py`` walks the document for these
rules and ``tests/test_schemathesis.py`` checks the server against it.

Litestar builds its document lazily and offers no hook after the build, so the two
documents wacc serves (the JSON and the Swagger page that embeds it) go through render
plugins that complete it once per app.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import msgspec
from litestar import Litestar, Request
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.routes import HTTPRoute

API_PREFIX = "/api/v1"
ERROR_SCHEMA = "Error"
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "string", "pattern": r"^\d+$"},
    }
}
_DESCRIPTIONS = {
    400: "Invalid input (VALIDATION_ERROR), with a detail per bad field",
    401: "No valid credential (AUTHENTICATION_ERROR)",
    403: "The caller lacks the permission (AUTHORIZATION_ERROR)",
    404: "No such resource in the caller's organization (NOT_FOUND)",
    409: "The change conflicts with the stored state (CONFLICT)",
    413: "The request body is too large (PAYLOAD_TOO_LARGE)",
    415: "The body's media type is not accepted (UNSUPPORTED_MEDIA_TYPE)",  # opt errors
    429: "Too many requests (RATE_LIMIT_EXCEEDED); retry after Retry-After seconds",
    503: "A backing service (the database) is unavailable; retry after Retry-After seconds",
}
_WRITES = {"post", "put", "patch", "delete"}
_METHODS = _WRITES | {"get"}
SECURED: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]


def error_components() -> dict[str, Any]:
    """The seed's error body, as component schemas."""
    detail = {
        "type": "object",
        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
    }
    return {
        "ErrorDetail": detail,
        ERROR_SCHEMA: {
            "type": "object",
            "title": "Error",
            "description": "Every error wacc answers, in the seed's format.",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "details", "requestId", "timestamp"],
                    "additionalProperties": False,
                    "properties": {
                        "code": {"type": "string", "examples": ["VALIDATION_ERROR"]},
                        "message": {"type": "string"},
                        "details": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/ErrorDetail"},
                        },
                        "requestId": {"type": "string"},
                        "timestamp": {"type": "string", "format": "date-time"},
                    },
                }
            },
        },
    }


def _handlers(app: Litestar) -> dict[tuple[str, str], Any]:
    out = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                out[(route.path_format or "/", method.lower())] = handler
    return out


def error_statuses(path: str, method: str, operation: dict[str, Any], opt: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, by the rules in the module docstring."""
    if not path.startswith(API_PREFIX):
        return {int(s) for s in opt.get("errors", ())}  # /health and /health/ready
    codes = {400, 503, *(int(s) for s in opt.get("errors", ()))}
    if not opt.get("public"):
        codes |= {401, 403}
    names = [p.get("name", "") for p in operation.get("parameters", [])]
    if "{" in path or method in _WRITES or any(n.endswith("Id") for n in names):
        codes.add(404)
    if method in _WRITES:
        codes |= {409, 413}  # the body limit holds whatever the operation reads
    if not opt.get("no_rate_limit"):
        codes.add(429)
    return codes


def _is_litestar_error(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    candidates = schema.get("oneOf", [schema])
    return any("status_code" in c.get("properties", {}) for c in candidates)


def complete(document: dict[str, Any], app: Litestar) -> dict[str, Any]:
    """A copy of Litestar's document with wacc's errors and security filled in."""
    doc = copy.deepcopy(document)
    align_request_schemas(doc, app)
    doc.setdefault("components", {}).setdefault("schemas", {}).update(error_components())
    handlers = _handlers(app)
    ref = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            handler = handlers.get((path, method))
            opt = dict(handler.opt) if handler is not None else {}
            public = bool(opt.get("public")) or not path.startswith(API_PREFIX)
            operation["security"] = [] if public else copy.deepcopy(SECURED)
            responses = operation.setdefault("responses", {})
            for media_type in opt.get("also_returns", ()):
                success = min((k for k in responses if k.startswith("2")), default=None)
                if success is not None:
                    responses[success].setdefault("content", {})[media_type] = {
                        "schema": {"type": "string", "format": "binary"}}
            for status in sorted(error_statuses(path, method, operation, opt)):
                key = str(status)
                if key in responses and not _is_litestar_error(responses[key]):
                    continue  # the handler documents its own body for this status
                response: dict[str, Any] = {
                    "description": _DESCRIPTIONS.get(status, "Error"),
                    "content": {"application/json": {"schema": dict(ref)}},
                }
                if status in (429, 503):
                    response["headers"] = copy.deepcopy(RETRY_AFTER)
                responses[key] = response
            for response in responses.values():
                if _is_litestar_error(response):  # a status Litestar added outside the rules
                    response["content"] = {"application/json": {"schema": dict(ref)}}
    return doc


def _structs(tp: Any, out: dict[str, list[type]]) -> None:
    """Every msgspec struct reachable from a request body type, by class name."""
    for info in msgspec.inspect.multi_type_info([tp]):
        _walk(info, out, set())


def _walk(info: Any, out: dict[str, list[type]], seen: set[int]) -> None:
    if id(info) in seen:
        return
    seen.add(id(info))
    if isinstance(info, msgspec.inspect.StructType):
        names = out.setdefault(info.cls.__name__, [])
        if info.cls not in names:
            names.append(info.cls)
        for field in info.fields:
            _walk(field.type, out, seen)
        return
    for attr in ("item_type", "key_type", "value_type"):
        if hasattr(info, attr):
            _walk(getattr(info, attr), out, seen)
    for child in getattr(info, "types", ()) or ():
        _walk(child, out, seen)
    for child in getattr(info, "item_types", ()) or ():
        _walk(child, out, seen)


def _refs_resolve(schema: Any, components: dict[str, Any]) -> bool:
    """Whether every component msgspec's schema refers to is the one Litestar named so."""
    names = re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(schema))
    return all(name in components and components[name].get("title", name) == name
               for name in names)


def _carry_formats(theirs: Any, mine: Any) -> None:
    """msgspec writes a datetime as a bare string; keep Litestar's ``format`` for it."""
    if not isinstance(theirs, dict) or not isinstance(mine, dict):
        return
    if "format" in theirs and "format" not in mine and mine.get("type") == "string":
        mine["format"] = theirs["format"]
    for key in ("items", "additionalProperties"):
        _carry_formats(theirs.get(key), mine.get(key))
    for name, sub in mine.get("properties", {}).items():
        _carry_formats(theirs.get("properties", {}).get(name), sub)
    alternatives = theirs.get("oneOf") or theirs.get("anyOf") or [theirs]
    for alternative in mine.get("anyOf") or mine.get("oneOf") or []:
        match = next((a for a in alternatives if a.get("type") == alternative.get("type")), None)
        _carry_formats(match, alternative)


def align_request_schemas(doc: dict[str, Any], app: Litestar) -> None:
    """Request bodies described as msgspec validates them.

    Litestar's conversion drops constraints msgspec enforces: a bound of 0 (``ge=0``),
    the constraints on list items and dict keys, and ``forbid_unknown_fields``. A body
    the document allows was then refused with 400. msgspec's own JSON Schema of each
    request struct is exact, so its property schemas replace Litestar's, where the
    components they refer to are the ones Litestar named alike (those are aligned too).
    """
    found: dict[str, list[type]] = {}
    for handler in _handlers(app).values():
        data = handler.parsed_fn_signature.parameters.get("data")
        if data is not None:
            _structs(data.annotation, found)
    types = [group[0] for group in found.values() if len(group) == 1]
    refs, exact = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    components = doc.get("components", {}).get("schemas", {})
    for tp, ref in zip(types, refs, strict=True):
        mine = exact[ref["$ref"].rsplit("/", 1)[1]]
        theirs = next((c for name, c in components.items()
                       if c.get("title", name) == tp.__name__), None)
        if theirs is None:
            continue
        if mine.get("additionalProperties") is False:
            theirs["additionalProperties"] = False
        properties = theirs.get("properties", {})
        for name, schema in mine.get("properties", {}).items():
            if name in properties and _refs_resolve(schema, components):
                _carry_formats(properties[name], schema)
                properties[name] = schema


def openapi_document(app: Litestar) -> dict[str, Any]:
    """The document wacc serves, completed once per app."""
    cached = app.state.get("openapi_document")
    if cached is None:
        cached = complete(app.openapi_schema.to_schema(), app)
        app.state["openapi_document"] = cached
    return cached


class JsonDocument(JsonRenderPlugin):
    """/api/docs/openapi.json: the completed document."""

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, openapi_document(request.app))


class SwaggerDocument(SwaggerRenderPlugin):
    """/api/docs: Swagger UI, with the completed document embedded."""

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, openapi_document(request.app))
