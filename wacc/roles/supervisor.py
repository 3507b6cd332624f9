"""`wacc run`: the supervisor. It starts each role as a child process, restarts a role
that exits with exponential backoff, and on SIGTERM/SIGINT drains them all.

Children are ``python -m wacc.cli.main run --role NAME``, each in its own process group:
a Ctrl-C on the terminal reaches the supervisor alone, which then stops the roles with
SIGTERM, the one signal every role drains on. A role that does not stop within
WACC_STOP_SECONDS is killed together with its process group (browsers included).
The supervisor imports no feature code, so it stays small.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from wacc.config import ConfigError, Settings, listen_url
from wacc.db.pending import pending_count
from wacc.logs import get_logger
from wacc.roles import EXIT_CONFIG, ROLES
from wacc.security.crypto import load_keyring

log = get_logger(__name__)

# A role that ran this long before exiting starts over at the shortest restart delay.
STABLE_SECONDS = 60.0
FIRST_RESTART_SECONDS = 0.5


@dataclass
class Child:
    role: str
    argv: list[str]
    process: asyncio.subprocess.Process | None = None
    failures: int = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None


def role_argv(role: str, settings: Settings) -> list[str]:
    argv = [sys.executable, "-m", "wacc.cli.main", "run", "--role", role,
            "--supervisor-pid", str(os.getpid())]
    if role == "web":  # `wacc run --host/--port` may have overridden the settings
        argv += ["--host", settings.http.host, "--port", str(settings.http.port)]
    return argv


def _signal_name(exit_code: int | None) -> str | None:
    """The signal that killed a process (asyncio reports it as a negative exit code)."""
    if exit_code is None or exit_code >= 0:
        return None
    try:
        return signal.Signals(-exit_code).name
    except ValueError:
        return f"signal {-exit_code}"


def restart_delay(failures: int, cap: float) -> float:
    return min(cap, FIRST_RESTART_SECONDS * 2 ** max(failures - 1, 0))


# How long `wacc run` waits for the web role's first answer before it stops waiting
# (the roles keep running; only the "ready" line is not printed).
READY_WAIT_SECONDS = 180.0
# Started first: what /health/ready needs. The others (scheduler, wa) follow once the
# web role answers, or after this long if it does not.
FIRST_ROLES = ("web", "worker")
LATER_ROLES_AFTER_SECONDS = 20.0


class Supervisor:
    def __init__(self, settings: Settings, children: list[Child],
                 on_ready: Callable[[str, float], None] | None = None) -> None:
        self.settings = settings
        self.children = children
        self.exit_code = 0
        self._stopping = asyncio.Event()
        # Told the URL and the seconds it took once the web role answers /health.
        self.on_ready = on_ready
        self._web_up = asyncio.Event()

    async def run(self) -> int:
        """Run until a stop signal (exit 0) or a role's configuration error (its code)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        has_web = any(c.role == "web" for c in self.children)
        # What /health/ready needs starts first; the rest once the web role answers, so
        # on a busy machine the four roles' imports do not all compete for the CPUs.
        first = [c for c in self.children if not has_web or c.role in FIRST_ROLES]
        keepers = [self._keeper(child) for child in first]
        watcher = asyncio.create_task(self._watch_ready(loop.time())) if has_web else None
        starter = asyncio.create_task(self._start_later(
            [c for c in self.children if c not in first], keepers))
        await self._stopping.wait()
        starter.cancel()
        if watcher is not None:
            watcher.cancel()
        done, pending = await asyncio.wait(keepers, timeout=self.settings.supervisor.stop_seconds)
        if pending:
            late = [c.role for c in self.children if c.running]
            log.warning("roles did not stop in time; killing them", roles=late)
            for child in self.children:
                self._kill(child)
            await asyncio.wait(pending)
        for task in done:
            task.result()  # surface a bug in _keep_running rather than hide it
        log.info("stopped", exit_code=self.exit_code)
        return self.exit_code

    async def _keep_running(self, child: Child) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            started = loop.time()
            code: int | None = None
            try:
                child.process = await asyncio.create_subprocess_exec(
                    *child.argv, stdin=subprocess.DEVNULL, process_group=0
                )
            except OSError as exc:  # e.g. out of processes or memory: retry like a crash
                log.error("role could not be started", child_role=child.role, error=str(exc))
            else:
                log.info("role started", child_role=child.role, pid=child.process.pid)
                if self._stopping.is_set():  # the stop came while it was being started
                    self._terminate(child)
                code = await child.process.wait()
            if self._stopping.is_set():
                log.info("role stopped", child_role=child.role, exit_code=code)
                return
            if code == EXIT_CONFIG:
                log.error("role has a configuration error; stopping wacc", child_role=child.role)
                self.exit_code = EXIT_CONFIG
                self._stop()
                return
            ran = loop.time() - started
            child.failures = 1 if ran >= STABLE_SECONDS else child.failures + 1
            delay = restart_delay(child.failures, self.settings.supervisor.restart_max_seconds)
            log.warning(
                "role exited; restarting", child_role=child.role, exit_code=code,
                signal=_signal_name(code),
                ran_seconds=round(ran, 1), restart_in_seconds=delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    def _keeper(self, child: Child) -> asyncio.Task[None]:
        return asyncio.create_task(self._keep_running(child), name=f"keep-{child.role}")

    async def _start_later(self, children: list[Child], keepers: list[asyncio.Task[None]]) -> None:
        if not children:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._web_up.wait(), LATER_ROLES_AFTER_SECONDS)
        if not self._stopping.is_set():
            keepers.extend(self._keeper(child) for child in children)

    async def _watch_ready(self, started: float) -> None:
        """Once the web role answers /health: start the other roles and call on_ready
        (neither when it never answers; the others then start after a while anyway)."""
        url = listen_url(self.settings.http.host, self.settings.http.port)
        loop = asyncio.get_running_loop()
        async with httpx.AsyncClient(timeout=2) as client:
            while loop.time() - started < READY_WAIT_SECONDS:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/health")).status_code == 200:
                        self._web_up.set()
                        if self.on_ready is not None:
                            self.on_ready(url, loop.time() - started)
                        return
                await asyncio.sleep(0.1)

    def _on_signal(self, sig: int) -> None:
        if self._stopping.is_set():
            log.warning("second stop signal: killing roles now", signal=signal.Signals(sig).name)
            for child in self.children:
                self._kill(child)
            return
        log.info("stopping roles", signal=signal.Signals(sig).name,
                 timeout_seconds=self.settings.supervisor.stop_seconds)
        self._stop()

    def _stop(self) -> None:
        self._stopping.set()
        for child in self.children:
            self._terminate(child)

    @staticmethod
    def _terminate(child: Child) -> None:
        # The role itself only: it stops its own helpers (e.g. a browser) in order.
        if child.running:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]

    @staticmethod
    def _kill(child: Child) -> None:
        if child.running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.process.pid, signal.SIGKILL)  # type: ignore[union-attr]


def _migrate(settings: Settings) -> int:
    """Apply migrations in a short-lived `wacc migrate`: loading every table and
    migration costs some 30 MB, which would otherwise stay with the supervisor for good.
    Its errors reach stderr as they are; its report becomes a log line. Skipped when the
    database already has every migration (most starts)."""
    try:
        if pending_count(settings.database_url) == 0:
            log.info("database migrated", report="up to date (no migration pending)")
            return 0
    except Exception as exc:  # the migration process reports the problem in words
        log.debug("migration state unknown; migrating", error=f"{type(exc).__name__}: {exc}")
    done = subprocess.run(
        [sys.executable, "-m", "wacc.cli.main", "migrate"], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, text=True, check=False,
    )
    if done.returncode == 0:
        lines = done.stdout.strip().splitlines()
        log.info("database migrated", report=lines[-1].strip() if lines else "")
    return done.returncode


def supervise(settings: Settings, on_ready: Callable[[str, float], None] | None = None) -> int:
    """Check what every role needs, migrate once, then start WACC_ROLES and keep them
    running; returns the process exit code. (Logging is the caller's to configure.)
    *on_ready* is told the web role's URL once it answers."""
    roles = settings.supervisor.roles
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        problem = f"unknown role {unknown[0]!r}" if unknown else "no roles"
        raise ConfigError(f"WACC_ROLES: {problem}; choose from {', '.join(ROLES)}")
    # Fail here, once and clearly, rather than in every role, restarting forever.
    load_keyring(settings)
    migrated = _migrate(settings)
    if migrated != 0:
        return migrated
    if "web" in roles:
        log.info("wacc is starting", url=f"http://{settings.http.host}:{settings.http.port}",
                 roles=roles)
    children = [Child(role, role_argv(role, settings)) for role in roles]
    return asyncio.run(Supervisor(settings, children, on_ready).run())
