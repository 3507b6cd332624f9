"""Example wacc plugin."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from wacc.lib.clock import iso, utcnow
from wacc.plugins.spec import hookimpl


@get("/hello", opt={"permission": "read:organization", "resource": "hello"}, tags=["Plugins"])
async def hello(request: Request) -> dict[str, Any]:
    """Say hello to the calling organization."""
    principal = request.scope["state"]["principal"]
    return {"message": "hello from a plugin", "organizationId": principal.organization_id,
            "at": iso(utcnow())}


@hookimpl
def wacc_controllers() -> list[Any]:
    return [hello]


@hookimpl
def wacc_cli(app: Any) -> None:
    @app.command("hello")
    def hello_command(name: str = "world") -> None:
        """Print a greeting (from the wacc-hello example plugin)."""
        print(f"hello, {name}")


@hookimpl
def wacc_ai_providers() -> dict[str, Any]:
    # Imported on first use, like wacc's own providers (an SDK would be heavy).
    def echo(config: Any) -> Any:
        from wacc_hello.echo import EchoProvider

        return EchoProvider(config)

    return {"hello-echo": echo}
