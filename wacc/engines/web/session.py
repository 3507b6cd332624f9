"""Where a WhatsApp Web login stands, and what each page event means for it.

Pure state, no browser: the engine feeds every event through :meth:`LoginState.interpret`
and passes on what it returns. This is where QR codes are numbered and limited, where
"stuck while opening" is timed, and where the page's reports of the end of the session
(logged out, conflict, ...) are told apart from ones the page may not make.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from wacc.engines.contract import (
    Authenticated,
    Disconnected,
    DisconnectReason,
    EngineEvent,
    PairingCode,
    QrCode,
    Ready,
    StateChanged,
)

# What the page itself may report as the end of the session. CRASHED and STOPPED are
# the engine's own findings; a page claiming them is malformed.
PAGE_ENDINGS = frozenset({
    DisconnectReason.LOGGED_OUT, DisconnectReason.CONFLICT, DisconnectReason.NEEDS_UPDATE,
    DisconnectReason.TOS_BLOCK, DisconnectReason.QR_TIMEOUT, DisconnectReason.NETWORK,
})


# Events about the login itself; after the session ended they are stale.
LOGIN_EVENTS = (QrCode, PairingCode, Authenticated, Ready, StateChanged, Disconnected)


@dataclass
class Verdict:
    """What to do with one event: the events to pass on, and maybe an ending."""

    emit: list[EngineEvent] = field(default_factory=list)
    end: Disconnected | None = None
    rejected: str = ""  # why the event was dropped as invalid, if it was


@dataclass
class LoginState:
    max_qr: int
    phase: str = "stopped"  # opening, qr, pairing, syncing, ready, stopped
    qr_count: int = 0
    last_qr: str | None = None
    opening_since: float | None = None  # monotonic time; None while nothing is pending
    state: str = ""  # the last StateChanged passed on
    logging_out: bool = False  # a logout we asked for: say so in the ending

    def opening(self) -> None:
        """A new document: WhatsApp Web starts over (first load, reload, restart)."""
        self.phase = "opening"
        self.last_qr = None
        self.opening_since = time.monotonic()

    def stuck_for(self) -> float:
        """Seconds spent loading, syncing or waiting for a pairing code to be typed,
        without progress (0 when waiting for nothing: QR shown, ready)."""
        return 0.0 if self.opening_since is None else time.monotonic() - self.opening_since

    def interpret(self, event: EngineEvent) -> Verdict:
        if isinstance(event, Disconnected):
            return self._ending(event)
        if isinstance(event, QrCode):
            return self._qr(event)
        if isinstance(event, PairingCode):
            # Timed like opening: a code nobody types ends the attempt (QR_TIMEOUT).
            self.phase, self.opening_since = "pairing", time.monotonic()
        elif isinstance(event, Authenticated):
            # Syncing after a scan can take minutes; it is timed like opening.
            self.phase, self.opening_since = "syncing", time.monotonic()
        elif isinstance(event, Ready):
            self.phase, self.opening_since = "ready", None
            self.qr_count, self.last_qr = 0, None
        elif isinstance(event, StateChanged):
            if event.state == self.state:
                return Verdict()
            self.state = event.state
        return Verdict(emit=[event])

    def _ending(self, event: Disconnected) -> Verdict:
        if event.reason not in PAGE_ENDINGS:
            return Verdict(rejected=f"the page may not report {event.reason.value}")
        if event.reason == DisconnectReason.QR_TIMEOUT and self.phase not in ("opening", "qr"):
            return Verdict()  # a stale QR screen event after the scan
        detail = event.detail
        if event.reason == DisconnectReason.LOGGED_OUT and self.logging_out:
            detail = "logged out on request"
        return Verdict(end=Disconnected(reason=event.reason, detail=detail))

    def _qr(self, event: QrCode) -> Verdict:
        # The adapter reports the code on changes and on (re)subscription: count each
        # distinct code once, and none once the login went past the QR screen.
        if self.phase not in ("opening", "qr") or event.code == self.last_qr:
            return Verdict()
        self.last_qr = event.code
        self.qr_count += 1
        if self.qr_count > self.max_qr:
            return Verdict(end=Disconnected(
                reason=DisconnectReason.QR_TIMEOUT, detail=f"no scan within {self.max_qr} QR codes"
            ))
        self.phase, self.opening_since = "qr", None
        return Verdict(emit=[QrCode(code=event.code, attempt=self.qr_count)])
