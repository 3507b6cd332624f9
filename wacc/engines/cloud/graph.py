"""A thin client for Meta's Graph API that turns every failure into an EngineError.

The whole engine speaks to Meta through :class:`GraphClient`, so whether a failure is
worth retrying is decided here, once. The access token only ever travels in the
``Authorization`` header; it is never put into a URL, an error message or a log line.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from wacc.engines.contract import PermanentEngineError, TransientEngineError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
# Connecting should be quick; Meta sometimes takes many seconds to accept a send or
# an upload. A slower answer is treated as lost (and retried by the outbox).
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 20.0

# Meta error codes that mean "not now" even when the HTTP status is a 400: throttling
# (4, 17, 80007, 130429, 131056), temporary outages (1, 2, 131000, 131016, 133004) and
# maintenance (131057). Retrying them later can succeed.
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 613, 80007, 130429, 131000, 131016, 131056, 131057, 133004})
# Codes that mean the token itself is refused: expired, revoked or lacking permission.
AUTH_CODES = frozenset({0, 3, 10, 190, *range(200, 300)})


class GraphAuthError(PermanentEngineError):
    """Meta refused the access token: nothing sent with it can succeed until the
    session's credentials are fixed."""


def graph_error(response: httpx.Response) -> PermanentEngineError | TransientEngineError:
    """The EngineError for a Graph API error response, with Meta's code and message
    (and its ``error_data.details``, which often says which parameter was wrong)."""
    error: dict[str, Any] = {}
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
    code = error.get("code")
    code_num = code if isinstance(code, int) else None
    message = str(error.get("message") or response.reason_phrase or "no message")
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    text = f"Meta error {code if code is not None else response.status_code}: {message}"
    if details and details not in message:
        text += f" ({details})"
    text += f" [HTTP {response.status_code}]"
    code_str = str(code) if code is not None else f"HTTP_{response.status_code}"
    if response.status_code in (401, 403) or code_num in AUTH_CODES:
        return GraphAuthError(text, code=code_str)
    if response.status_code == 429 or response.status_code >= 500 or code_num in TRANSIENT_CODES:
        return TransientEngineError(text, code=code_str)
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
        """Fetch a media URL Meta handed out; it needs the same bearer token."""
        return (await self._request("GET", url)).content

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
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
        error = graph_error(response)
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
