"""Fakes of the OpenAI, Anthropic and Gemini APIs, served over real HTTP.

Each speaks its provider's documented wire format: the key in the provider's header
(``Authorization: Bearer``; ``x-api-key`` or a bearer token with ``anthropic-version``;
``x-goog-api-key`` or ``?key=``), the request body checked the way the real API checks it (400 with the
provider's error JSON when a field is wrong, 404 for an unknown model), and answers
with the real response JSON, usage included. Knobs make the next requests fail: 429
with the provider's way of saying when to retry, 5xx, a hang past any client timeout,
or a 200 whose body is garbage. Every request is recorded for assertions.

They know nothing of wacc: a test that passes proves the official SDK, driven by wacc,
talks to something that behaves like the real service.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Self

import uvicorn
from litestar import Litestar, Request, Response, route
from litestar.params import FromPath

GARBAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None


@dataclass
class _Failure:
    status: int = 500
    hang: bool = False
    body: bytes | None = None  # a 200 with this body (garbage)
    content_type: str = "text/html"
    retry_after: float | None = None


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.retry_after = status, message, kind, retry_after


def count_tokens(*texts: str) -> int:
    """The fakes' tokenizer: one token per word, so tests can predict usage."""
    return sum(len(t.split()) for t in texts)


def vector(text: str, dims: int = 8) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round(b / 255, 4) for b in digest[:dims]]


class FakeProvider:
    """What the three fakes share: serving, recording, knobs. Subclasses give the
    authentication rule, the routes and the error format."""

    models: tuple[str, ...] = ()

    def __init__(self, *, key: str, reply: str | None = None) -> None:
        self.key = key
        self.reply = reply  # None: echo the last user message
        self.url = ""
        self.requests: list[Recorded] = []
        self._failures: deque[_Failure] = deque()
        self._release = asyncio.Event()

    # -- knobs ------------------------------------------------------------------------

    def reset(self) -> None:
        self.requests.clear()
        self._failures.clear()
        self.reply = None
        self._release.set()  # let any request hung by an earlier test finish
        self._release = asyncio.Event()

    def fail_next(self, n: int = 1, *, status: int = 500, retry_after: float | None = None) -> None:
        """The next *n* requests fail with *status* in the provider's error format."""
        self._failures.extend(_Failure(status=status, retry_after=retry_after) for _ in range(n))

    def rate_limit_next(self, n: int = 1, *, retry_after: float = 20) -> None:
        self.fail_next(n, status=429, retry_after=retry_after)

    def hang_next(self, n: int = 1) -> None:
        """The next *n* requests get no answer until reset or shutdown."""
        self._failures.extend(_Failure(hang=True) for _ in range(n))

    def garbage_next(self, n: int = 1, *, body: bytes = GARBAGE, content_type: str = "text/html") -> None:
        """The next *n* requests get a 200 whose body is not the API's answer."""
        self._failures.extend(_Failure(status=200, body=body, content_type=content_type) for _ in range(n))

    def calls(self, suffix: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith(suffix)]

    # -- serving ------------------------------------------------------------------------

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[Self]:
        """Serve on a free loopback port in the running event loop."""
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=0, lifespan="off",
                                log_config=None, access_log=False)
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        self.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        try:
            yield self
        finally:
            self._release.set()
            server.should_exit = True
            await task

    def app(self) -> Litestar:
        @route("/{rest:path}", http_method=["GET", "POST"], status_code=200)
        async def handle(request: Request[Any, Any, Any], rest: FromPath[str]) -> Response[Any]:
            return await self._handle(request)

        return Litestar(route_handlers=[handle], openapi_config=None, debug=False)

    async def _handle(self, request: Request[Any, Any, Any]) -> Response[Any]:
        recorded = Recorded(request.method, request.url.path, dict(request.query_params),
                            dict(request.headers))
        raw = await request.body()
        if raw:
            try:
                recorded.json = json.loads(raw)
            except ValueError:
                recorded.json = raw
        self.requests.append(recorded)
        try:
            self.authenticate(recorded)
            if self._failures:
                failure = self._failures.popleft()
                if failure.hang:
                    await asyncio.wait_for(self._release.wait(), 60)
                if failure.body is not None:
                    return Response(failure.body, status_code=200, media_type=failure.content_type)
                raise self.failure(failure.status, failure.retry_after)
            return Response(self.route(recorded))
        except ApiError as exc:
            return self.error(exc)

    # -- provider specifics ---------------------------------------------------------------

    def authenticate(self, r: Recorded) -> None:
        raise NotImplementedError

    def failure(self, status: int, retry_after: float | None) -> ApiError:
        raise NotImplementedError

    def route(self, r: Recorded) -> Any:
        raise NotImplementedError

    def error(self, exc: ApiError) -> Response[Any]:
        raise NotImplementedError

    def answer(self, last_user_text: str) -> str:
        return self.reply if self.reply is not None else f"You said: {last_user_text}"

    def known_model(self, model: Any, exc: ApiError) -> str:
        if not isinstance(model, str) or not model:
            raise ApiError(400, "model: Field required", "invalid_request_error")
        if model not in self.models:
            raise exc
        return model


def _need(condition: bool, message: str, kind: str = "invalid_request_error") -> None:
    if not condition:
        raise ApiError(400, message, kind)


def _number(value: Any, low: float, high: float) -> bool:
    return value is None or (isinstance(value, int | float) and low <= value <= high)


def _positive(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)


# -- OpenAI ----------------------------------------------------------------------------------


class FakeOpenAI(FakeProvider):
    """POST /v1/chat/completions, POST /v1/embeddings, GET /v1/models/{model}."""

    models = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "llama3.2")
    ROLES = ("system", "developer", "user", "assistant", "tool")

    def __init__(self, *, key: str = "sk-test-openai", reply: str | None = None) -> None:
        super().__init__(key=key, reply=reply)

    def authenticate(self, r: Recorded) -> None:
        given = r.headers.get("authorization", "").removeprefix("Bearer ")
        if given != self.key:
            raise ApiError(401, f"Incorrect API key provided: {given[:3]}***{given[-4:]}. You can find "
                           "your API key at https://platform.openai.com/account/api-keys.",
                           "invalid_api_key")

    def failure(self, status: int, retry_after: float | None) -> ApiError:
        if status == 429:
            return ApiError(429, "Rate limit reached for requests. Please try again in 20s.",
                            "rate_limit_exceeded", retry_after)
        return ApiError(status, "The server had an error while processing your request. Sorry about that!",
                        "server_error")

    def error(self, exc: ApiError) -> Response[Any]:
        kind = {401: "invalid_request_error", 429: "requests"}.get(exc.status, exc.kind)
        code = exc.kind if exc.kind not in ("invalid_request_error", "server_error") else None
        headers = {"retry-after": f"{exc.retry_after:g}"} if exc.retry_after is not None else {}
        return Response({"error": {"message": exc.message, "type": kind, "param": None, "code": code}},
                        status_code=exc.status, headers=headers)

    def _no_model(self, model: Any) -> ApiError:
        return ApiError(404, f"The model `{model}` does not exist or you do not have access to it.",
                        "model_not_found")

    def route(self, r: Recorded) -> Any:
        if r.method == "POST" and r.path == "/v1/chat/completions":
            return self._chat(r.json)
        if r.method == "POST" and r.path == "/v1/embeddings":
            return self._embeddings(r.json)
        if r.method == "GET" and r.path.startswith("/v1/models/"):
            model = self.known_model(r.path.removeprefix("/v1/models/"), self._no_model(r.path[11:]))
            return {"id": model, "object": "model", "created": 1715367049, "owned_by": "system"}
        raise ApiError(404, f"Invalid URL ({r.method} {r.path})", "invalid_request_error")

    def _chat(self, body: Any) -> Any:
        _need(isinstance(body, dict), "We could not parse the JSON body of your request.")
        model = self.known_model(body.get("model"), self._no_model(body.get("model")))
        messages = body.get("messages")
        _need(isinstance(messages, list) and len(messages) > 0,
              "[] is too short - 'messages'" if messages == [] else "Missing required parameter: 'messages'.")
        for i, m in enumerate(messages):
            _need(isinstance(m, dict) and m.get("role") in self.ROLES,
                  f"Invalid value for 'messages[{i}].role'.")
            _need(isinstance(m.get("content"), str | list),
                  f"Missing required parameter: 'messages[{i}].content'.")
        _need(_number(body.get("temperature"), 0, 2), "Invalid 'temperature': must be between 0 and 2.")
        for field in ("max_tokens", "max_completion_tokens"):
            _need(_positive(body.get(field)), f"Invalid '{field}': integer below minimum value.")
        users = [m["content"] for m in messages if m["role"] == "user" and isinstance(m["content"], str)]
        text = self.answer(users[-1] if users else "")
        prompt = count_tokens(*(m["content"] for m in messages if isinstance(m["content"], str)))
        completion = count_tokens(text)
        return {
            "id": "chatcmpl-" + secrets.token_hex(12), "object": "chat.completion",
            "created": int(time.time()), "model": model + ("-2024-07-18" if model == "gpt-4o-mini" else ""),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None,
                                                 "annotations": []},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
            "service_tier": "default", "system_fingerprint": "fp_" + secrets.token_hex(5),
        }

    def _embeddings(self, body: Any) -> Any:
        _need(isinstance(body, dict), "We could not parse the JSON body of your request.")
        model = self.known_model(body.get("model"), self._no_model(body.get("model")))
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        _need(isinstance(texts, list) and len(texts) > 0 and all(isinstance(t, str) and t for t in texts),
              "'input' : input must be a string or an array of strings")
        return {"object": "list", "model": model,
                "data": [{"object": "embedding", "index": i, "embedding": vector(t)}
                         for i, t in enumerate(texts)],
                "usage": {"prompt_tokens": count_tokens(*texts), "total_tokens": count_tokens(*texts)}}


# -- Anthropic -------------------------------------------------------------------------------


class FakeAnthropic(FakeProvider):
    """POST /v1/messages, GET /v1/models/{model}."""

    models = ("claude-3-5-haiku-20241022", "claude-sonnet-4-20250514")

    def __init__(self, *, key: str = "sk-ant-test", reply: str | None = None) -> None:
        super().__init__(key=key, reply=reply)

    def authenticate(self, r: Recorded) -> None:
        # The API takes the key as x-api-key or, as the SDK sends it since 2.x, a bearer token.
        given = r.headers.get("x-api-key") or r.headers.get("authorization", "").removeprefix("Bearer ")
        if given != self.key:
            raise ApiError(401, "invalid x-api-key", "authentication_error")
        if not r.headers.get("anthropic-version"):
            raise ApiError(400, "anthropic-version: header is required", "invalid_request_error")

    def failure(self, status: int, retry_after: float | None) -> ApiError:
        if status == 429:
            return ApiError(429, "Number of request tokens has exceeded your per-minute rate limit",
                            "rate_limit_error", retry_after)
        if status == 529:
            return ApiError(529, "Overloaded", "overloaded_error")
        return ApiError(status, "Internal server error", "api_error")

    def error(self, exc: ApiError) -> Response[Any]:
        headers = {"retry-after": f"{exc.retry_after:g}"} if exc.retry_after is not None else {}
        return Response({"type": "error", "error": {"type": exc.kind or "api_error", "message": exc.message},
                         "request_id": "req_" + secrets.token_hex(12)},
                        status_code=exc.status, headers=headers)

    def route(self, r: Recorded) -> Any:
        if r.method == "POST" and r.path == "/v1/messages":
            return self._messages(r.json)
        if r.method == "GET" and r.path.startswith("/v1/models/"):
            name = r.path.removeprefix("/v1/models/")
            model = self.known_model(name, ApiError(404, f"model: {name}", "not_found_error"))
            return {"type": "model", "id": model, "display_name": model, "created_at": "2024-10-22T00:00:00Z"}
        raise ApiError(404, "Not Found", "not_found_error")

    def _messages(self, body: Any) -> Any:
        _need(isinstance(body, dict), "Request body is not valid JSON")
        model = body.get("model")
        model = self.known_model(model, ApiError(404, f"model: {model}", "not_found_error"))
        _need(body.get("max_tokens") is not None, "max_tokens: Field required")
        _need(_positive(body["max_tokens"]), "max_tokens: Input should be greater than or equal to 1")
        messages = body.get("messages")
        _need(isinstance(messages, list) and len(messages) > 0, "messages: Field required")
        for i, m in enumerate(messages):
            _need(isinstance(m, dict) and m.get("role") in ("user", "assistant"),
                  f"messages.{i}.role: Input should be 'user' or 'assistant'")
            _need(isinstance(m.get("content"), str | list), f"messages.{i}.content: Field required")
        _need(isinstance(body.get("system"), str | list | None), "system: Input should be a valid string")
        _need(_number(body.get("temperature"), 0, 1), "temperature: Input should be less than or equal to 1")
        users = [m["content"] for m in messages if m["role"] == "user" and isinstance(m["content"], str)]
        text = self.answer(users[-1] if users else "")
        system = body.get("system") if isinstance(body.get("system"), str) else ""
        prompt = count_tokens(system, *(m["content"] for m in messages if isinstance(m["content"], str)))
        return {"id": "msg_" + secrets.token_hex(12), "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": prompt, "output_tokens": count_tokens(text),
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                          "service_tier": "standard"}}


# -- Gemini ----------------------------------------------------------------------------------

_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
           500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


class FakeGemini(FakeProvider):
    """POST /v1beta/models/{model}:generateContent and :batchEmbedContents,
    GET /v1beta/models/{model}; the same under /v1/ (google-genai's default since 3.x)."""

    models = ("gemini-2.0-flash", "gemini-2.5-flash", "gemini-embedding-001")

    def __init__(self, *, key: str = "AIza-test-gemini", reply: str | None = None) -> None:
        super().__init__(key=key, reply=reply)

    def authenticate(self, r: Recorded) -> None:
        given = r.headers.get("x-goog-api-key") or r.query.get("key")
        if not given:
            raise ApiError(403, "Method doesn't allow unregistered callers (callers without established "
                           "identity). Please use API Key or other form of API consumer identity to call "
                           "this API.")
        if given != self.key:
            raise ApiError(400, "API key not valid. Please pass a valid API key.", "API_KEY_INVALID")

    def failure(self, status: int, retry_after: float | None) -> ApiError:
        if status == 429:
            return ApiError(429, "You exceeded your current quota, please check your plan and billing "
                            "details.", retry_after=retry_after)
        if status == 503:
            return ApiError(503, "The model is overloaded. Please try again later.")
        return ApiError(status, "An internal error has occurred. Please retry or report in "
                        "https://developers.generativeai.google/guide/troubleshooting")

    def error(self, exc: ApiError) -> Response[Any]:
        error: dict[str, Any] = {"code": exc.status, "message": exc.message,
                                 "status": _STATUS.get(exc.status, "UNKNOWN")}
        if exc.kind == "API_KEY_INVALID":
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                 "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                                 "metadata": {"service": "generativelanguage.googleapis.com"}}]
        elif exc.retry_after is not None:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                 "retryDelay": f"{exc.retry_after:g}s"}]
        return Response({"error": error}, status_code=exc.status)

    def route(self, r: Recorded) -> Any:
        version, _, rest = r.path.strip("/").partition("/models/")
        if version not in ("v1", "v1beta") or not rest:
            raise ApiError(404, f"Invalid path {r.path}")
        name, _, method = rest.partition(":")
        missing = ApiError(404, f"models/{name} is not found for API version {version}, or is not supported "
                           f"for {method or 'get'}. Call ListModels to see the list of available models "
                           "and their supported methods.")
        model = self.known_model(name, missing)
        if r.method == "GET" and not method:
            return {"name": f"models/{model}", "version": "001", "displayName": model,
                    "inputTokenLimit": 1048576, "outputTokenLimit": 8192,
                    "supportedGenerationMethods": ["generateContent", "countTokens"]}
        if r.method == "POST" and method == "generateContent":
            return self._generate(model, r.json)
        if r.method == "POST" and method == "batchEmbedContents":
            return self._embed(r.json)
        raise missing

    def _texts(self, content: Any, where: str) -> list[str]:
        parts = content.get("parts") if isinstance(content, dict) else None
        _need(isinstance(parts, list) and len(parts) > 0,
              f"* {where}.parts: contents.parts must not be empty.")
        texts = [p.get("text") for p in parts if isinstance(p, dict)]
        _need(all(isinstance(t, str) for t in texts) and len(texts) == len(parts),
              f"* {where}.parts: each part needs data (text)")
        return texts

    def _generate(self, model: str, body: Any) -> Any:
        _need(isinstance(body, dict), "Invalid JSON payload received.")
        contents = body.get("contents")
        _need(isinstance(contents, list) and len(contents) > 0,
              "* GenerateContentRequest.contents: contents is not specified")
        prompt_texts: list[str] = []
        last_user = ""
        for i, content in enumerate(contents):
            _need(content.get("role", "user") in ("user", "model"),
                  f"Please use a valid role: user, model. (contents[{i}].role)")
            texts = self._texts(content, f"GenerateContentRequest.contents[{i}]")
            prompt_texts += texts
            if content.get("role", "user") == "user":
                last_user = " ".join(texts)
        if "systemInstruction" in body:
            prompt_texts += self._texts(body["systemInstruction"],
                                        "GenerateContentRequest.system_instruction")
        config = body.get("generationConfig") or {}
        _need(_number(config.get("temperature"), 0, 2),
              "* GenerateContentRequest.generation_config.temperature: must be in [0.0, 2.0]")
        _need(_positive(config.get("maxOutputTokens")),
              "* GenerateContentRequest.generation_config.max_output_tokens: must be positive")
        text = self.answer(last_user)
        prompt, completion = count_tokens(*prompt_texts), count_tokens(text)
        return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
                                "finishReason": "STOP", "avgLogprobs": -0.1}],
                "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": completion,
                                  "totalTokenCount": prompt + completion,
                                  "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]},
                "modelVersion": model, "responseId": secrets.token_urlsafe(16)}

    def _embed(self, body: Any) -> Any:
        requests = body.get("requests") if isinstance(body, dict) else None
        _need(isinstance(requests, list) and len(requests) > 0,
              "* BatchEmbedContentsRequest.requests: is empty")
        vectors = []
        for i, request in enumerate(requests):
            texts = self._texts(request.get("content"), f"BatchEmbedContentsRequest.requests[{i}].content")
            vectors.append({"values": vector(" ".join(texts))})
        return {"embeddings": vectors}
