"""A plugin used only by tests: routes that fail on purpose."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.params import JSONBody

from wacc.plugins.spec import hookimpl


@get("/boom", opt={"public": True}, include_in_schema=False)
async def boom() -> None:
    raise RuntimeError("secret internal detail /etc/passwd")


@post("/echo", opt={"public": True}, include_in_schema=False)
async def echo(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
    return data


@hookimpl
def wacc_controllers() -> list[Any]:
    return [boom, echo]
