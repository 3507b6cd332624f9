"""The contract between adapter.js and a wa-js bundle, checked without a browser.

adapter.js calls wa-js by name (``W.chat.sendTextMessage``, ``wpp.on('conn.main_ready')``).
A name that a wa-js release renamed or dropped would only fail inside the page, on a
real phone, at the worst moment. This module lists both sides and compares them:

- **what the adapter uses** is read from its source text: every member chain on an
  expression that stands for ``window.WPP`` (``window.WPP``, ``WPP``, the adapter's
  aliases ``W``/``wpp``/``current``, the helpers ``wpp()``/``ready()``, and any
  ``const X = <one of those>``), and every literal event name passed to ``.on('…')``
  or the adapter's local ``on('…', fn)``. Too few names found means the extractor no
  longer understands the adapter: that is an error, never a pass.
- **what the bundle has** comes from two places. Functions: the dist is run in Node
  (``wajs_probe.js``, a bare V8 context with a minimal window) and the exported WPP
  object is walked by property descriptors. Events: wa-js emits every event it
  declares (``src/*/events/eventTypes.ts``) through its emitter as
  ``internalEv.emit("name", …)`` / ``emitAsync("name", …)`` with a literal name; those
  literals are read from the bundle text (the TypeScript declarations do not survive
  the build). Events wa-js builds from variables are not seen: the adapter must not
  rely on one without extending this check.

Node comes from Playwright's own driver (always installed with wacc), else ``node``
on PATH.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

PROBE = Path(__file__).with_name("wajs_probe.js")
NODE_TIMEOUT = 60.0
# The adapter of wacc 4.6-era uses ~35 wa-js names and ~15 events; far fewer means the
# extractor no longer matches how the adapter is written.
MIN_PATHS = 15
MIN_EVENTS = 8

_IDENT = r"[A-Za-z_$][\w$]*"
# Expressions that stand for window.WPP in adapter.js, besides declared aliases.
_BASE_ROOTS = (r"window\.WPP", r"WPP", r"wpp\(\)", r"ready\(\)")
_FIXED_ALIASES = ("W", "wpp", "current")
_EVENT_USE = re.compile(r"""(?<![\w$])on\(\s*(['"])([a-z_]+(?:\.[a-z_]+)+)\1""")
_EVENT_EMIT = re.compile(r"""\.emit(?:Async)?\(\s*(['"])([a-z_]+(?:\.[a-z_]+)+)\1""")
# Members of the WPP object that are values, not functions, when the adapter reads them.
_NOT_CALLED = re.compile(r"\s*\(")


class ContractError(Exception):
    """The check could not run (no Node, a bundle that does not load)."""


@dataclass(frozen=True)
class AdapterUsage:
    paths: frozenset[str]  # "chat.sendTextMessage", "conn.isMainReady", "on", ...
    called: frozenset[str]  # the subset used as functions
    events: frozenset[str]


@dataclass(frozen=True)
class BundleApi:
    version: str | None
    paths: dict[str, str]  # path -> typeof ("function", "object", "lazy", ...)
    events: frozenset[str]


@dataclass
class ContractReport:
    missing: list[str] = field(default_factory=list)  # "WPP.chat.sendTextMesage"
    not_functions: list[str] = field(default_factory=list)  # "WPP.version (string)"
    missing_events: list[str] = field(default_factory=list)
    checked_paths: int = 0
    checked_events: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.not_functions or self.missing_events)

    def problems(self) -> list[str]:
        return ([f"missing function: {p}" for p in self.missing]
                + [f"not a function: {p}" for p in self.not_functions]
                + [f"missing event: {e}" for e in self.missing_events])


def adapter_usage(source: str) -> AdapterUsage:
    """Every WPP path and event name *source* (adapter.js) uses."""
    code = _strip_comments(source)
    aliases = set(_FIXED_ALIASES)
    roots = "|".join(_BASE_ROOTS)
    # const X = window.WPP / wpp() / ready() / W  -> X is an alias too (to a fixpoint).
    while True:
        pattern = re.compile(
            rf"(?:const|let|var)\s+({_IDENT})\s*=\s*(?:{roots}|{'|'.join(map(re.escape, aliases))})\s*[;,\n]")
        found = {m.group(1) for m in pattern.finditer(code)} - aliases
        if not found:
            break
        aliases |= found
    alias_roots = "|".join([*_BASE_ROOTS, *(rf"(?<![\w$.]){re.escape(a)}" for a in sorted(aliases))])
    chain = re.compile(rf"(?<![\w$])(?:{alias_roots})((?:\.{_IDENT})+)")
    paths: set[str] = set()
    called: set[str] = set()
    for match in chain.finditer(code):
        path = match.group(1)[1:]
        paths.add(path)
        if _NOT_CALLED.match(code, match.end()):
            called.add(path)
    events = {m.group(2) for m in _EVENT_USE.finditer(code)}
    if len(paths) < MIN_PATHS or len(events) < MIN_EVENTS:
        raise ContractError(
            f"found only {len(paths)} wa-js names and {len(events)} events in adapter.js "
            f"(expected at least {MIN_PATHS} and {MIN_EVENTS}): the extractor in "
            f"{__name__} no longer understands how the adapter calls wa-js; teach it")
    return AdapterUsage(frozenset(paths), frozenset(called), frozenset(events))


def _strip_comments(source: str) -> str:
    # Line and block comments, outside strings well enough for our own adapter (its
    # strings hold no "//" or "/*"); comments may mention names that are not calls.
    source = re.sub(r"/\*.*?\*/", " ", source, flags=re.S)
    return re.sub(r"(?m)(^|[^:\\'\"`])//.*$", r"\1", source)


def node_executable() -> str:
    try:
        from playwright._impl._driver import compute_driver_executable

        node = Path(compute_driver_executable()[0])
        if node.is_file():
            return str(node)
    except (ImportError, OSError, IndexError):
        pass
    found = shutil.which("node")
    if found is None:
        raise ContractError("no Node.js to check the wa-js bundle with (Playwright's driver "
                            "is missing and `node` is not on PATH)")
    return found


def bundle_api(bundle: Path) -> BundleApi:
    """The functions and events the wa-js dist at *bundle* provides."""
    try:
        text = bundle.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"cannot read {bundle}: {exc}") from exc
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [node_executable(), str(PROBE), str(bundle)], capture_output=True, text=True,
            timeout=NODE_TIMEOUT, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ContractError(f"the wa-js probe did not run: {exc}") from exc
    try:
        result = json.loads(done.stdout)
    except ValueError as exc:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ContractError(f"the wa-js probe failed: {last[:300]}") from exc
    if result.get("error"):
        raise ContractError(str(result["error"]))
    events = frozenset(m.group(2) for m in _EVENT_EMIT.finditer(text))
    return BundleApi(version=result.get("version"), paths=dict(result["paths"]), events=events)


def compare(usage: AdapterUsage, api: BundleApi) -> ContractReport:
    report = ContractReport(checked_paths=len(usage.paths), checked_events=len(usage.events))
    for path in sorted(usage.paths):
        kind = api.paths.get(path)
        if kind is None:
            report.missing.append(f"WPP.{path}")
        elif path in usage.called and kind not in ("function", "lazy"):
            report.not_functions.append(f"WPP.{path} ({kind})")
    # Events reach the adapter only through WPP.on.
    if usage.events and api.paths.get("on") != "function" and "WPP.on" not in report.missing:
        report.missing.append("WPP.on")
    report.missing_events = sorted(usage.events - api.events)
    return report


def check_bundle(bundle: Path, adapter: Path | None = None) -> ContractReport:
    """Compare the adapter (default: ours) with the wa-js dist at *bundle*."""
    from wacc.engines.web.bundle import ADAPTER_PATH

    source = (adapter or ADAPTER_PATH).read_text(encoding="utf-8")
    return compare(adapter_usage(source), bundle_api(bundle))
