"""The web engine's settings, read from the session's engine settings (``host.settings``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from wacc.engines.contract import PermanentEngineError

NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
Count = Annotated[int, msgspec.Meta(ge=1)]


class WebSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """Every field has a default; unknown keys are ignored (the manager may keep its own)."""

    # Restart Chromium when the anonymous memory (heaps, not Chromium's shared code) of
    # the session's process tree stays above this many MB for ``memory_checks``
    # watchdog rounds in a row. 0 = off. 600: a busy account's page measured about
    # 450-500 MB of anonymous memory (bench/web_memory.py, docs/performance.md).
    memory_cap_mb: Annotated[int, msgspec.Meta(ge=0)] = 600
    # How many watchdog rounds in a row the cap must be exceeded: one spike (a big
    # media message being decoded) should not cost a restart.
    memory_checks: Count = 3
    # QR codes shown (WhatsApp rotates one about every 20 s) before giving up with
    # Disconnected(QR_TIMEOUT).
    max_qr: Count = 6
    # Restart Chromium on a schedule to shed leaked memory; 0 = never. The fallback
    # where the memory cap cannot be measured (no /proc: the JS heap is all it sees).
    restart_every_hours: NonNegative = 0.0
    # Planned Chromium restarts (memory cap, schedule, new wa-js) allowed within
    # ``restart_window_hours``; one more ends the session as CRASHED with the reason,
    # instead of restarting in a loop (a cap below what the account needs).
    max_restarts: Count = 3
    restart_window_hours: Positive = 1.0
    # Seconds the page may spend loading/syncing without showing a QR code or becoming
    # ready before it counts as hung (Disconnected(CRASHED)); big accounts sync slowly.
    opening_timeout: Positive = 180.0
    # Seconds a pairing code may wait to be typed without a new one (then QR_TIMEOUT).
    # wa-js renews the code every 3.25 min, five times (LINK_CODE_TTL_MS and
    # MAX_AUTO_REFRESHES in src/conn/functions/linkDeviceCodeLifecycle.ts); each renewal
    # starts this clock again, so it must outlast one code: 195 s + a minute of slack.
    pairing_timeout: Positive = 255.0
    # Seconds between watchdog rounds (page ping, stuck-opening check, memory check).
    watchdog_interval: Positive = 30.0
    # Seconds a ping may take before the page counts as hung.
    watchdog_timeout: Positive = 20.0
    # Seconds an action (send, download, ...) may take inside the page.
    action_timeout: Positive = 60.0
    # Seconds the first navigation to WhatsApp Web may take.
    navigation_timeout: Positive = 60.0
    # The Chromium binary; default: `chromium` on PATH, else /usr/bin/chromium.
    executable_path: str | None = None
    # Send this session's traffic through a proxy ("http://host:port", "socks5://...").
    proxy: str | None = None

    @classmethod
    def from_host(cls, settings: Mapping[str, Any]) -> WebSettings:
        try:
            return msgspec.convert(dict(settings), cls, strict=False)
        except msgspec.ValidationError as exc:
            raise PermanentEngineError(f"invalid web engine settings: {exc}", code="BAD_SETTINGS") from exc
