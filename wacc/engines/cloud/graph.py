"""A thin client for Meta's Graph API that turns every failure into an EngineError.

The whole engine speaks to Meta through :class:`GraphClient`, so whether a failure is
worth retrying is decided here, once. The access token only ever travels in the
``Authorization`` header; it is never put into a URL, an error message or a log line.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from wacc.engines.cloud.errors import Kind, classify
from wacc.engines.contract import PermanentEngineError, TransientEngineError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://graph.facebook.com"
# The newest Graph API version Meta's changelog names (introduced 29 July 2026; v25.0 is
# available until 29 July 2028, v21.0 only until 21 January 2027). A setting
# (``api_version``) overrides it per session; see docs/configuration.md.
DEFAULT_API_VERSION = "v26.0"
# Connecting should be quick; Meta sometimes takes many seconds to accept a send or
# an upload. A slower answer is treated as lost (and retried by the outbox).
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 20.0

WINDOW_CLOSED = "outside the 24-hour customer service window: only approved templates may be sent"


class GraphAuthError(PermanentEngineError):
    """Meta refused the access token (code 190, or a 401 from the Graph API itself):
    nothing sent with it can succeed until the session's credentials are fixed."""


def graph_error(response: httpx.Response, *, from_graph: bool = True,
                ) -> PermanentEngineError | TransientEngineError:
    """The EngineError for an error response, classified by Meta's code through the
    one table in :mod:`wacc.engines.cloud.errors`, with Meta's code and message (and its
    ``error_data.details``, which often says which parameter was wrong). *from_graph*
    is False for the media host (another origin): its refusals never end the session."""
    error: dict[str, Any] = {}
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
    code = error.get("code")
    if isinstance(code, str) and code.isdigit():  # some gateways send the code as a string
        code = int(code)
    code_num = code if isinstance(code, int) else None
    message = str(error.get("message") or response.reason_phrase or "no message")
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    who = "Meta" if from_graph else "Meta's media host"
    text = f"{who} error {code if code is not None else response.status_code}: {message}"
    if details and details not in message:
        text += f" ({details})"
    text += f" [HTTP {response.status_code}]"
    code_str = str(code) if code is not None else f"HTTP_{response.status_code}"
    if not from_graph:
        code_str = f"MEDIA_{code_str}"
    rule = classify(code_num, response.status_code, from_graph=from_graph)
    if rule.kind is Kind.SESSION:
        return GraphAuthError(text, code=code_str)
    if rule.kind is Kind.RETRY:
        return TransientEngineError(text, code=code_str, retry_after=rule.wait)
    if code_num == 131047:
        return PermanentEngineError(f"{WINDOW_CLOSED} — {text}", code="WINDOW_CLOSED")
    return PermanentEngineError(text, code=code_str)


class GraphClient:
    """Requests against ``{base_url}/{api_version}/…`` with the bearer token."""

    def __init__(
        self,
        access_token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.root = f"{base_url.rstrip('/')}/{api_version.strip('/')}"
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._http = httpx.AsyncClient(
            timeout=timeout,
            headers={"Authorization": f"Bearer {access_token}"},
            transport=transport,
            # Media URLs answer with the file directly; a redirect would be unexpected,
            # and following it would carry the bearer token somewhere else.
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return _json(await self._request("GET", f"{self.root}/{path}", params=params))

    async def post(self, path: str, json: dict[str, Any]) -> dict[str, Any]:
        return _json(await self._request("POST", f"{self.root}/{path}", json=json))

    async def delete(self, path: str, json: dict[str, Any]) -> dict[str, Any]:
        return _json(await self._request("DELETE", f"{self.root}/{path}", json=json))

    async def upload(self, path: str, data: dict[str, str], file: tuple[str, bytes, str]) -> dict[str, Any]:
        return _json(await self._request("POST", f"{self.root}/{path}", data=data, files={"file": file}))

    async def download(self, url: str) -> bytes:
        """Fetch a media URL Meta handed out (on another host: lookaside.fbsbx.com);
        it needs the same bearer token, but its refusals concern that file alone."""
        return (await self._request("GET", url, from_graph=False)).content

    async def _request(self, method: str, url: str, *, from_graph: bool = True,
                       **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            # A timed-out send may still have reached Meta; the outbox decides whether
            # to risk a duplicate, this layer only says "try again".
            raise TransientEngineError(f"Meta did not answer in time ({type(exc).__name__})",
                                       code="TIMEOUT") from exc
        except httpx.TransportError as exc:
            raise TransientEngineError(f"cannot reach Meta: {type(exc).__name__}: {exc}",
                                       code="NETWORK") from exc
        if response.is_success:
            return response
        error = graph_error(response, from_graph=from_graph)
        # Method, status and Meta's code only: URLs of media downloads carry signed
        # parameters and bodies carry customers' messages.
        log.warning("Meta refused a %s request: HTTP %s, error %s", method, response.status_code, error.code)
        raise error


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise TransientEngineError("Meta answered with something that is not JSON",
                                   code="BAD_RESPONSE") from exc
    if not isinstance(body, dict):
        raise TransientEngineError("Meta answered with unexpected JSON", code="BAD_RESPONSE")
    return body
