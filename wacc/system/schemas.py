from __future__ import annotations

from wacc.http.schemas import Output


class Health(Output):
    status: str
    version: str


class Check(Output):
    ok: bool
    detail: str | None = None


class Readiness(Output):
    status: str
    checks: dict[str, Check]
