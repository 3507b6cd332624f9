"""End-to-end tests: the real `wacc run` in a subprocess, driven by the system Chromium.

Each test module gets its own server on a free port with its own data directory (the
embedded default: SQLite and the SQLite job queue, all roles supervised by `wacc run`),
so modules never depend on each other. Every page a test opens records browser console
errors and uncaught exceptions; the test fails on any it did not declare as expected.

Screenshots go to build/e2e-screenshots/ (for review after a run). Set
WACC_E2E_SCREENSHOTS=docs/screenshots to refresh the committed ones.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.ai_providers import FakeOpenAI
from tests.support.ai import Served
from tests.support.browser import WaccProcess, accessibility_problems
from tests.support.env import free_port

CHROMIUM = os.environ.get("WACC_E2E_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("WACC_E2E_SCREENSHOTS") or REPO / "build" / "e2e-screenshots")


def _start(data_dir: Path, extra_env: dict[str, str] | None = None) -> WaccProcess:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WACC_")},
        "WACC_DATA_DIR": str(data_dir),
        "WACC_SECRET_KEY": base64.b64encode(b"e" * 32).decode(),
        "WACC_BASE_URL": url,
        "WACC_LOG_FORMAT": "json",
        **(extra_env or {}),
    }
    log = data_dir / "wacc.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "wacc"), "run", "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = WaccProcess(url=url, data_dir=data_dir, process=process, log=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"wacc run exited with {process.returncode}:\n{server.log_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code < 500:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    _stop(server)
    raise RuntimeError(f"wacc run did not become healthy:\n{server.log_text()}")


def _stop(server: WaccProcess) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


@pytest.fixture(scope="module")
def wacc_env() -> dict[str, str]:
    """Extra settings for this module's server (a module overrides this fixture)."""
    return {}


@pytest.fixture(scope="module")
def wacc(tmp_path_factory: pytest.TempPathFactory, wacc_env: dict[str, str]) -> Iterator[WaccProcess]:
    """A fresh `wacc run` for this module: no organization yet (first run)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    server = _start(tmp_path_factory.mktemp("wacc-e2e"), wacc_env)
    yield server
    _stop(server)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield instance
        instance.close()


@dataclass
class ConsoleWatch:
    """Console errors and uncaught exceptions of one page; some may be expected."""

    errors: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def expect(self, pattern: str) -> None:
        """Declare an error the test provokes on purpose (a 401 for a wrong password)."""
        self.expected.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.expected)]


@dataclass
class Pages:
    browser: Any
    base_url: str
    watches: list[ConsoleWatch] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def new(self, viewport: dict[str, int] | None = None) -> tuple[Any, ConsoleWatch]:
        """A page in a fresh browser context (its own cookies: a separate user)."""
        context = self.browser.new_context(base_url=self.base_url,
                                           viewport=viewport or {"width": 1280, "height": 800})
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        return page, self.watch(page)

    def watch(self, page: Any) -> ConsoleWatch:
        """Record *page*'s console errors (for another tab of a context)."""
        watch = ConsoleWatch()
        page.on("console", lambda msg: watch.errors.append(f"console: {msg.text}")
                if msg.type == "error" else None)
        page.on("pageerror", lambda exc: watch.errors.append(f"pageerror: {exc}"))
        self.watches.append(watch)
        return watch

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Any, wacc: WaccProcess) -> Iterator[Pages]:
    """Opens pages; after the test, fails it on any unexpected console error."""
    opened = Pages(browser=browser, base_url=wacc.url)
    yield opened
    opened.close()
    problems = [e for w in opened.watches for e in w.unexpected()]
    assert not problems, "browser console errors:\n" + "\n".join(problems)


# What a screen reader or keyboard user would trip over on a page: form controls and
# buttons without an accessible name, images without alt, repeated ids (labels and
# aria references would point at the wrong element), no h1, no main landmark.
def shot(page: Any, name: str) -> Path:
    """Check the page for basic accessibility problems, then save a screenshot of it
    for review. Every main page of the UI is screenshotted, so every one is checked."""
    problems = accessibility_problems(page)
    assert not problems, f"accessibility problems on {page.url}:\n" + "\n".join(problems)
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    return shot


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[Served]:
    """The fake OpenAI API (tests/fakes/ai_providers.py) on a loopback port that the
    `wacc run` process reaches, served by its own event loop in a thread (the browser
    tests are synchronous); `.fake` is the FakeOpenAI, `.call` runs code in its loop."""
    with Served(FakeOpenAI()) as served:
        yield served


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
