"""The web role: the Litestar app on uvicorn.

On SIGTERM uvicorn stops accepting connections and gives in-flight requests up to
WACC_HTTP_SHUTDOWN_SECONDS to finish before the app shuts down.
"""

from __future__ import annotations

import signal
from types import FrameType

import uvicorn

from wacc.app import create_app
from wacc.config import Settings, record_listen_url
from wacc.roles.common import Heartbeat

# uvicorn's exit code when the app or the socket could not start.
STARTUP_FAILURE = 3


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(settings: Settings) -> None:
    app = create_app(settings)
    record_listen_url(settings)
    # The app's lifespan opens the database before on_startup hooks run and closes it
    # after on_shutdown hooks, so the heartbeat always has a connection.
    heartbeat = Heartbeat("web", settings.worker.heartbeat_seconds)
    app.on_startup.append(heartbeat.start)
    app.on_shutdown.append(heartbeat.stop)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.http.host,
            port=settings.http.port,
            lifespan="on",
            log_config=None,  # logging is configured by wacc.logs
            access_log=False,  # the app logs each request with its request id
            # The app reads X-Forwarded-For itself, from WACC_TRUSTED_PROXIES only.
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=settings.http.shutdown_seconds,
        )
    )
    # uvicorn drains on SIGTERM/SIGINT and then re-raises the signal to the handler that
    # was installed before it; with the default one the process would die of the signal.
    # Exiting 0 tells the supervisor (and systemd) that the stop was clean; a signal that
    # comes before uvicorn installs its own handlers stops the start-up the same way.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)
