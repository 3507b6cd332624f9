"""A second wacc app in the test process, served by uvicorn in this event loop (its
database pool must live in the loop the test runs in), with other settings."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn

from tests.support.env import TEST_KEY, free_port, server_env
from wacc.app import create_app
from wacc.config import Settings, load_settings
from wacc.db.engine import bind, bound_engine
from wacc.schema import ALL_TABLES
from wacc.security.crypto import Keyring


@contextlib.asynccontextmanager
async def serve_app(data_dir: Path, database_url: str,
                    **env: str) -> AsyncIterator[tuple[str, Settings]]:
    """Yields the app's URL and settings; the session server's engine is bound again
    after (create_app binds the tables to the new app's engine)."""
    original = bound_engine()
    settings = load_settings(server_env(data_dir, database_url, **env))
    app = create_app(settings, keyring=Keyring((base64.b64decode(TEST_KEY),)))
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on",
                                        log_config=None, access_log=False))
    task = asyncio.create_task(srv.serve())
    try:
        while not srv.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}", settings
    finally:
        srv.should_exit = True
        await task
        bind(original, ALL_TABLES)
