"""What `wacc run` refuses before it starts anything: a second run on the same data
directory, and a listen port another program holds.

Two supervisors on one data directory would run every role twice on one SQLite file
(double sends, two schedulers, two owners of each WhatsApp session); a web role that
cannot bind its port would otherwise restart forever while the other roles run on. Both
are told in one line and a non-zero exit.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from pathlib import Path
from typing import IO

LOCK_NAME = "wacc.lock"


class StartRefused(Exception):
    """`wacc run` cannot start; the message says why and what to do."""


def hold_data_dir(data_dir: Path) -> IO[str]:
    """Lock *data_dir* for this process's life (the returned file keeps the lock; the
    kernel releases it when the process ends, however it ends)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise StartRefused(
                f"wacc is already running on {data_dir} (pid {holder}); stop it first, or "
                "give this one another WACC_DATA_DIR") from None
        raise
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def check_port(host: str, port: int) -> None:
    """Refuse a listen address that cannot be bound now (as uvicorn will bind it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartRefused(
                    f"port {port} on {host} is in use by another program; stop it or "
                    f"choose another with --port or WACC_HTTP_PORT") from None
            if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                raise StartRefused(
                    f"cannot listen on {host}: not an address of this machine "
                    "(WACC_HTTP_HOST)") from None
            if exc.errno == errno.EACCES:
                raise StartRefused(
                    f"not allowed to listen on port {port} (ports below 1024 need "
                    "privileges); choose another with --port or WACC_HTTP_PORT") from None
            raise


def release(handle: IO[str] | None) -> None:
    if handle is not None:
        with contextlib.suppress(OSError):
            handle.close()
