"""Chromium for one session: how it is launched, how much memory it uses, how it dies.

Playwright drives the system Chromium (Debian's `chromium` package); Playwright's own
browser download is not used. Memory and process facts come from /proc, so this part
is Linux-only, like the appliance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page, Playwright

log = logging.getLogger(__name__)

FALLBACK_EXECUTABLE = "/usr/bin/chromium"

# Chromium honours only the last --disable-features switch, so Playwright's own list
# (network chatter at startup, routing quirks) is repeated here next to ours.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding",
    "ThirdPartyStoragePartitioning", "AvoidCorsURLLoaderRestartOnRedirect", "OptimizationHints",
    "NetworkTimeServiceQuerying", "AimEnabled", "PreconnectToSearch",
)
# Headless Chromium still builds the address bar's WebUI popup in its own renderer:
# about 50-80 MB for something nobody can see.
OUR_DISABLED_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "WebUIOmniboxFullPopup", "Translate")

CHROMIUM_ARGS = (
    "--headless",
    # Without it Blink sets navigator.webdriver = true, the first thing bot checks read.
    "--disable-blink-features=AutomationControlled",
    # Runs as a service user in a container/VM without user namespaces; the session's
    # isolation is the OS user and the profile directory, not Chromium's sandbox.
    "--no-sandbox",
    "--disable-gpu",
    # WhatsApp's websocket is TCP; QUIC probing only adds traffic on closed networks.
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps calling Google services (updates, sync, metrics).
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # One renderer for WhatsApp (and its service worker), no spare prelaunched one;
    # the GPU work (software compositing) runs in the browser process: ~60 MB saved.
    "--renderer-process-limit=1",
    "--in-process-gpu",
    "--disable-features=" + ",".join(PLAYWRIGHT_DISABLED_FEATURES + OUR_DISABLED_FEATURES),
)

# Playwright adds --enable-automation, which shows the "controlled by automated test
# software" bar and tells pages they are automated; we drive Chromium through CDP and
# need none of it.
IGNORED_DEFAULT_ARGS = ("--enable-automation",)

# Profile folders that only cache what WhatsApp can download again. They grow without
# bound over weeks; the login lives elsewhere (IndexedDB, Local Storage).
CACHE_DIRS = (
    "Default/Cache",
    "Default/Code Cache",
    "Default/GPUCache",
    "Default/Service Worker/CacheStorage",
    "Default/Service Worker/ScriptCache",
    "GrShaderCache",
    "GraphiteDawnCache",
    "ShaderCache",
)


def chromium_executable(configured: str | None = None) -> str:
    return configured or shutil.which("chromium") or FALLBACK_EXECUTABLE


@dataclass(frozen=True)
class BrowserIdentity:
    """What this Chromium says it is, as a desktop Chromium would say it.

    ``user_agent`` is the browser's own string with "HeadlessChrome/" made "Chrome/";
    ``metadata`` the client hints (CDP ``UserAgentMetadata``: brands, full versions,
    platform) read from the same binary, with any "HeadlessChrome" brand renamed, so
    the User-Agent header, Sec-CH-UA headers and navigator.userAgentData all carry the
    installed version and agree with each other.
    """

    user_agent: str
    metadata: dict[str, Any]

    @property
    def major(self) -> str:
        return str(self.metadata.get("fullVersion", "")).split(".")[0]


# A page on a name that cannot exist, served by routing: client hints need a secure
# origin, and nothing leaves the machine.
_PROBE_URL = "https://wacc-probe.invalid/"
_HINTS = ["architecture", "bitness", "fullVersionList", "model", "platformVersion", "uaFullVersion",
          "wow64"]


async def desktop_identity(playwright: Playwright, executable: str) -> BrowserIdentity:
    """The identity of this very Chromium (see BrowserIdentity), read from a throwaway
    browser (about a second; PlaywrightDriver keeps it per binary)."""
    browser = await playwright.chromium.launch(
        executable_path=executable, headless=True, args=list(CHROMIUM_ARGS),
        ignore_default_args=list(IGNORED_DEFAULT_ARGS), timeout=60_000,
    )
    try:
        session = await browser.new_browser_cdp_session()
        version = await session.send("Browser.getVersion")
        page = await browser.new_page()
        await page.route(_PROBE_URL, lambda route: route.fulfill(content_type="text/html", body="<p>"))
        await page.goto(_PROBE_URL)
        hints = await page.evaluate(
            "(names) => navigator.userAgentData.getHighEntropyValues(names)", _HINTS)
    finally:
        await browser.close()
    user_agent = str(version["userAgent"]).replace("HeadlessChrome/", "Chrome/")
    return BrowserIdentity(user_agent=user_agent, metadata=_metadata(hints))


def _metadata(hints: dict[str, Any]) -> dict[str, Any]:
    def brands(items: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{"brand": "Chromium" if b["brand"] == "HeadlessChrome" else b["brand"],
                 "version": b["version"]} for b in items]

    return {
        "brands": brands(hints.get("brands", [])),
        "fullVersionList": brands(hints.get("fullVersionList", [])),
        "fullVersion": str(hints.get("uaFullVersion", "")),
        "platform": str(hints.get("platform") or "Linux"),
        "platformVersion": str(hints.get("platformVersion", "")),
        "architecture": str(hints.get("architecture", "")),
        "model": str(hints.get("model", "")),
        "mobile": bool(hints.get("mobile", False)),
        "bitness": str(hints.get("bitness", "")),
        "wow64": bool(hints.get("wow64", False)),
    }


async def apply_identity(context: BrowserContext, page: Page, identity: BrowserIdentity,
                         locale: str = "en-US") -> None:
    """Set the user agent and its client hints on *page* through CDP
    (Emulation.setUserAgentOverride with userAgentMetadata): Playwright's own override
    keeps the hints today, this makes them ours to guarantee."""
    session = await context.new_cdp_session(page)
    try:
        await session.send("Emulation.setUserAgentOverride", {
            "userAgent": identity.user_agent,
            "acceptLanguage": f"{locale},{locale.split('-')[0]};q=0.9",
            "platform": "Linux x86_64",
            "userAgentMetadata": identity.metadata,
        })
    finally:
        await session.detach()


async def clear_site_caches(context: BrowserContext, page: Page, origin: str) -> None:
    """Unregister *origin*'s service workers and drop its Cache Storage and the HTTP
    cache (CDP Storage.clearDataForOrigin, Network.clearBrowserCache). The login lives
    in IndexedDB and Local Storage, which are kept."""
    session = await context.new_cdp_session(page)
    try:
        await session.send("Storage.clearDataForOrigin",
                           {"origin": origin, "storageTypes": "cache_storage,service_workers"})
        await session.send("Network.clearBrowserCache")
    finally:
        await session.detach()


def binary_mtime(path: str) -> int:
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return 0


# -- processes and memory ---------------------------------------------------------------


def process_cmdline(pid: int) -> str:
    """The command line of *pid* as one string (empty if it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after it.
    return int(stat.rsplit(")", 1)[1].split()[1])


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def find_browser_pid(profile: Path) -> int | None:
    """The Chromium browser process using *profile*: the one with our --user-data-dir
    and no --type= (its children are renderers, utilities, zygotes)."""
    # Chromium rewrites a child's argv into one space-separated string, so match text.
    marker = f" --user-data-dir={profile} "
    for pid in _pids():
        cmdline = f" {process_cmdline(pid)} "
        if marker in cmdline and " --type=" not in cmdline:
            return pid
    return None


def process_tree(root: int) -> list[int]:
    """*root* and all its descendants that are alive now."""
    children: dict[int, list[int]] = {}
    for pid in _pids():
        parent = _parent_of(pid)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    tree, queue = [], [root]
    while queue:
        pid = queue.pop()
        if Path(f"/proc/{pid}").exists():
            tree.append(pid)
            queue.extend(children.get(pid, []))
    return tree


@dataclass(frozen=True)
class MemoryUsage:
    """Memory of a process tree, in bytes.

    - ``rss`` counts shared pages once per process: Chromium's six-odd processes share
      most of their code, so it overstates a lot;
    - ``pss`` splits shared pages among their users; it adds up to what the tree costs
      the box, but for a single session about two thirds of it is Chromium's own
      binary (file pages, shared with every other session and reclaimable);
    - ``anon`` is the proportional anonymous memory (heaps, JavaScript, DOM): what
      WhatsApp Web grows and leaks, and what the memory cap watches;
    - ``uss`` is memory no other process shares.
    """

    rss: int
    pss: int
    anon: int
    uss: int
    processes: int

    def as_mb(self) -> dict[str, float]:
        return {k: round(getattr(self, k) / 2**20, 1) for k in ("rss", "pss", "anon", "uss")}


def tree_memory(root: int) -> MemoryUsage:
    totals = {"Rss": 0, "Pss": 0, "anon": 0, "uss": 0}
    count = 0
    for pid in process_tree(root):
        values = _smaps_rollup(pid)
        if values is None:
            continue
        count += 1
        totals["Rss"] += values.get("Rss", 0)
        totals["Pss"] += values.get("Pss", 0)
        # Pss_Anon needs Linux 5.12+; before that, private dirty pages come closest.
        totals["anon"] += values.get("Pss_Anon", values.get("Private_Dirty", 0)) + values.get("Pss_Shmem", 0)
        totals["uss"] += values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)
    kib = 1024
    return MemoryUsage(
        rss=totals["Rss"] * kib, pss=totals["Pss"] * kib, anon=totals["anon"] * kib,
        uss=totals["uss"] * kib, processes=count,
    )


def _smaps_rollup(pid: int) -> dict[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    values: dict[str, int] = {}
    for line in text.splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name] = int(parts[0])  # kB
    return values


async def js_heap_bytes(context: BrowserContext, page: Page, deadline: float) -> int | None:
    """The page's used JavaScript heap (CDP Performance.getMetrics): the fallback when
    the process tree cannot be read (no /proc, another PID namespace)."""
    session = await context.new_cdp_session(page)
    try:
        await asyncio.wait_for(session.send("Performance.enable"), deadline)
        metrics = await asyncio.wait_for(session.send("Performance.getMetrics"), deadline)
    finally:
        await session.detach()
    values = {m["name"]: m["value"] for m in metrics.get("metrics", [])}
    heap = values.get("JSHeapUsedSize")
    return int(heap) if heap is not None else None


def kill_tree(root: int) -> None:
    """SIGKILL a browser and its children: the last resort when closing it hangs."""
    for pid in reversed(process_tree(root)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def prune_caches(profile: Path) -> int:
    """Delete the cache folders of a profile whose browser is not running; returns the
    bytes freed. The login (IndexedDB, Local Storage, cookies) is left alone."""
    if find_browser_pid(profile) is not None:
        raise RuntimeError(f"Chromium is still running on {profile}; stop it before pruning")
    freed = 0
    for rel in CACHE_DIRS:
        folder = profile / rel
        if not folder.is_dir():
            continue
        freed += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())
        shutil.rmtree(folder, ignore_errors=True)
    if freed:
        log.info("pruned %.1f MB of Chromium caches in %s", freed / 2**20, profile)
    return freed
