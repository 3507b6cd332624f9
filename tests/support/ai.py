"""The one set of fake AI providers (tests/fakes/ai_providers.py) as the tests use it:
all three served together (`Fakes`; the `servers` and `fakes` fixtures in
tests/conftest.py), or one served from a thread for the synchronous browser tests
(`Served`; the `openai_fake` fixture in tests/e2e/conftest.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from tests.fakes.ai_providers import FakeAnthropic, FakeGemini, FakeOpenAI, FakeProvider
from wacc.ai.contract import ChatMessage, CompletionRequest, ProviderConfig

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku-20241022", "gemini": "gemini-2.0-flash",
          "custom": "llama3.2"}

QUESTION = CompletionRequest(
    system="You answer for Acme Bikes.",
    messages=[ChatMessage(role="user", content="Do you repair brakes?"),
              ChatMessage(role="assistant", content="Yes we do."),
              ChatMessage(role="user", content="How much does it cost?")],
    temperature=0.2, max_tokens=200, timeout=5,
)


@dataclass
class Fakes:
    openai: FakeOpenAI
    anthropic: FakeAnthropic
    gemini: FakeGemini

    def of(self, kind: str) -> FakeProvider:
        return self.openai if kind in ("openai", "custom") else getattr(self, kind)

    def config(self, kind: str, **changes: object) -> ProviderConfig:
        fake = self.of(kind)
        base = fake.url + "/v1" if kind in ("openai", "custom") else fake.url
        values: dict[str, object] = {"type": kind, "model": MODELS[kind], "api_key": fake.key,
                                     "base_url": base, "name": f"{kind}-main"}
        values.update(changes)
        return ProviderConfig(**values)  # type: ignore[arg-type]

    def reset(self) -> Fakes:
        for fake in (self.openai, self.anthropic, self.gemini):
            fake.reset()
        return self

    @classmethod
    @asynccontextmanager
    async def serving(cls) -> AsyncIterator[Fakes]:
        async with FakeOpenAI().serve() as o, FakeAnthropic().serve() as a, FakeGemini().serve() as g:
            yield cls(o, a, g)


class Served:
    """A fake provider served by uvicorn in its own event loop on a thread, so that the
    synchronous Playwright test and the `wacc run` subprocess can both reach it."""

    def __init__(self, fake: FakeOpenAI) -> None:
        self.fake = fake
        self.loop = asyncio.new_event_loop()
        self._up = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fake-openai", daemon=True)

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with self.fake.serve():
            self._up.set()
            await self._stop.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())

    def __enter__(self) -> Served:
        self._thread.start()
        assert self._up.wait(15), "the fake OpenAI did not start"
        return self

    def call(self, fn: Callable[[], Any]) -> None:
        """Run *fn* in the fake's loop (its asyncio objects are not thread-safe)."""
        self.loop.call_soon_threadsafe(fn)

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self.call(self._stop.set)
        self._thread.join(15)
