"""The `wacc` command's surroundings: a third-party test plugin on PYTHONPATH, the
environment of a wacc process, and reading the database past wacc's engine."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg

# A plugin the way a third party ships one: a module plus a .dist-info with its entry
# point, found on PYTHONPATH. It adds a slow route and a slow job (to watch draining),
# and a command; its broken sibling fails to import.
PLUGIN = '''
import asyncio
import pathlib
import time

from litestar import get

from wacc.plugins.spec import hookimpl


@get("/test/slow", opt={"public": True, "no_rate_limit": True})
async def slow(seconds: float, started: str) -> dict:
    pathlib.Path(started).touch()
    await asyncio.sleep(seconds)
    return {"slept": seconds}


@hookimpl
def wacc_controllers():
    return [slow]


@hookimpl
def wacc_tasks(jobs, run):
    @jobs.register("test.sleep")
    def sleep(seconds: float, started: str) -> str:
        pathlib.Path(started).touch()
        time.sleep(seconds)
        # Huey keeps no results here (wacc.queue): the file says the job finished.
        pathlib.Path(started + ".done").write_text(f"slept {seconds}")
        return f"slept {seconds}"


@hookimpl
def wacc_cli(app):
    @app.command("test-hello")
    def hello() -> None:
        """Say hello (test plugin)."""
        print("hello from the test plugin")
'''


def write_test_plugin(path: Path) -> Path:
    (path / "wacc_test_plugin.py").write_text(PLUGIN)
    (path / "wacc_test_broken.py").write_text("raise ImportError('broken on purpose')\n")
    dist = path / "wacc_test_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: wacc-test-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[wacc]\nslowpoke = wacc_test_plugin\nbroken = wacc_test_broken\n"
    )
    return path


def wacc_env(data_dir: Path, database_url: str = "", plugin_dir: Path | None = None,
             **settings: str) -> dict[str, str]:
    """The environment of a wacc process: ours minus every WACC_* variable (the test
    suite's own WACC_TEST_* ones would be unknown settings), plus *settings*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WACC_")}
    env.update(WACC_DATA_DIR=str(data_dir), WACC_LOG_FORMAT="json",
               WACC_BASE_URL="http://wacc.test")
    if database_url:
        env["WACC_DATABASE_URL"] = database_url
    if plugin_dir is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_dir),
                                                          env.get("PYTHONPATH")]))
    env.update(settings)
    return env


async def query(database_url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run *sql* (``?`` placeholders) straight on the database, past wacc's engine, so
    these tests never touch the tables bound in this process."""
    if database_url.startswith("sqlite:"):
        with sqlite3.connect(database_url[len("sqlite:///"):]) as conn:
            return conn.execute(sql, args).fetchall()
    numbers = iter(range(1, len(args) + 1))
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(re.sub(r"\?", lambda _: f"${next(numbers)}", sql), *args)
    finally:
        await conn.close()
    return [tuple(row) for row in rows]
