"""Private PostgreSQL and Redis servers a test starts, stops and starts again (the outage
drills of issue 14); the suite's own servers are never touched."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.env import free_port

PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
REDIS_SERVER = shutil.which("redis-server")


def _as_postgres(args: list[str]) -> list[str]:
    # initdb refuses to run as root; the server then runs as the postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


class PrivatePostgres:
    def __init__(self, root: Path) -> None:
        self.bin = Path(PG_BIN[-1]).parent
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *args: str) -> None:
        subprocess.run(_as_postgres(list(args)), check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self.run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                 "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                 str(self.data / "log"), "-o", f"-p {self.port} -k {self.data} -c fsync=off",
                 "start")

    def stop(self) -> None:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop")


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    if not PG_BIN:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
    root = Path(tempfile.mkdtemp(prefix="wacc-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    pg = PrivatePostgres(root)
    pg.init()
    pg.start()
    try:
        yield pg
    finally:
        subprocess.run(_as_postgres([str(pg.bin / "pg_ctl"), "-D", str(pg.data), "-m",
                                     "immediate", "stop"]), capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


class PrivateRedis:
    """redis-server on a free port, keeping nothing on disk (like the CI's): stopped, it
    comes back empty, the worst case for a job queue."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not self._answers():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)
        self.process = None

    def _answers(self) -> bool:
        import socket

        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
        return False


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    root = Path(tempfile.mkdtemp(prefix="wacc-redis-"))
    redis = PrivateRedis(root)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()
        shutil.rmtree(root, ignore_errors=True)
