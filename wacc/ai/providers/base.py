"""What the built-in providers share: timing, reading a reply defensively, and the
mapping of transport failures that every SDK lets through as httpx2 exceptions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from wacc.ai.contract import (
    AiError,
    ChatMessage,
    CompletionRequest,
    ProviderBadResponse,
    ProviderConfig,
    ProviderTimeout,
    ProviderUnavailable,
)

T = TypeVar("T")


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def ms(self) -> int:
        return round((time.perf_counter() - self.started) * 1000)


def settings(config: ProviderConfig, request: CompletionRequest) -> tuple[str, float | None, int]:
    """Model, temperature and max tokens: the request's, else the configuration's."""
    return (request.model or config.model,
            request.temperature if request.temperature is not None else config.temperature,
            request.max_tokens or config.max_tokens)


def system_and_turns(request: CompletionRequest) -> tuple[str | None, list[ChatMessage]]:
    """The system prompt (``request.system`` then any system messages, joined) and the
    conversation turns, for APIs that take the system prompt apart."""
    parts = [request.system] if request.system else []
    parts += [m.content for m in request.messages if m.role == "system"]
    turns = [m for m in request.messages if m.role != "system"]
    return ("\n\n".join(parts) or None), turns


def read_reply(provider: str, read: Callable[[], T]) -> T:
    """Run *read* over a parsed response; a missing or mistyped field is the provider's
    garbage, not our crash."""
    try:
        return read()
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise ProviderBadResponse(f"the answer is not a completion ({type(exc).__name__}: {exc})",
                                  provider=provider) from exc


def tokens(value: Any) -> int:
    """A token count that may be missing (OpenAI-compatible servers often omit usage)."""
    return value if isinstance(value, int) and value >= 0 else 0


def transport_error(exc: BaseException, provider: str, timeout: float) -> AiError | None:
    """An httpx2/httpx transport failure as an AiError (google-genai lets these through)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "TimeoutException" in names:
        return ProviderTimeout(f"no answer within {timeout:g} s", provider=provider)
    if "TransportError" in names:
        return ProviderUnavailable(f"cannot reach the provider ({type(exc).__name__}: {exc})",
                                   provider=provider)
    if "DecodingError" in names or isinstance(exc, ValueError):
        return ProviderBadResponse(f"unreadable response ({type(exc).__name__}: {exc})",
                                   provider=provider)
    return None


Convert = Callable[[Exception, str, float], AiError | None]


@contextmanager
def mapped_errors(provider: str, timeout: float, convert: Convert) -> Iterator[None]:
    """Raise what an SDK raised as the contract's AiError (*convert* knows the SDK's
    classes; transport failures are common to all). Anything unknown goes up as is and
    the router reports it as a provider failure."""
    try:
        yield
    except AiError:
        raise
    except Exception as exc:
        error = convert(exc, provider, timeout) or transport_error(exc, provider, timeout)
        if error is None:
            raise
        raise error from exc


def status_message(status: int, body: object, fallback: str) -> str:
    """The provider's own explanation ({"error": {"message": …}} in OpenAI's and
    Anthropic's bodies), which names the problem better than any summary of ours."""
    error = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return f"{status}: {error['message']}"
    return f"{status}: {fallback}"
