"""`wacc run` as a process tree in the background, its roles found by name, and waiting
on what it does."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


@contextlib.contextmanager
def running(env: dict[str, str], log: Path, *args: str) -> Any:
    """`wacc run ARGS` in the background; killed with its roles if a test fails."""
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "wacc.cli.main", "run", *args],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            roles = role_pids(process.pid)
            process.kill()
            for pid in roles.values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            process.wait()


def role_pids(supervisor: int) -> dict[str, int]:
    """The supervisor's children by role, from /proc (their command lines name it)."""
    try:
        children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    except OSError:
        return {}
    found = {}
    for pid in map(int, children):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"--role" in argv:
                found[argv[argv.index(b"--role") + 1].decode()] = pid
    return found


async def eventually(check: Callable[[], Any], timeout: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; log:\n{log.read_text()[-4000:]}")
        await asyncio.sleep(0.05)


def status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return None
