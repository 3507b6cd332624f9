"""The processes wacc runs: ``web``, ``worker``, ``scheduler`` and ``wa``, each started by
``wacc run --role NAME`` and kept running by the supervisor (``wacc run``).

Each role module has ``main(settings)``; it is imported only when that role runs, so a
process loads only what its role needs.
"""

from __future__ import annotations

import asyncio
import importlib
import os

from wacc.config import ROLE_NAMES, Settings

ROLES = ROLE_NAMES

# A role exits with this code (sysexits EX_CONFIG) when its configuration is wrong:
# restarting cannot help, so the supervisor stops instead of retrying.
EXIT_CONFIG = getattr(os, "EX_CONFIG", 78)


def run_role(name: str, settings: Settings, supervisor_pid: int | None = None) -> None:
    """Run role *name* in this process until it is told to stop (SIGTERM/SIGINT).
    Logging is the caller's to configure (with ``role=name``).

    Run alone (one machine of several), it applies pending migrations first; that is
    safe when several start at once, since migrating takes a lock. Under the supervisor,
    which has migrated already, it skips that and stops if the supervisor disappears.
    """
    if name not in ROLES:
        raise ValueError(f"unknown role {name!r}")
    from wacc.roles.common import follow_supervisor, migrate

    if supervisor_pid is None:
        asyncio.run(migrate(settings))
    else:
        follow_supervisor(supervisor_pid)
    importlib.import_module(f"wacc.roles.{name}").main(settings)
