"""Walk the app's API routes, so matrix and tenancy tests cover new endpoints on their own."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from litestar import Litestar

PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # template, e.g. /api/v1/organizations/{orgId}/users/{userId}
    opt: dict[str, Any]
    body_type: Any

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.path)

    @property
    def permission(self) -> str | None:
        return None if self.opt.get("public") else self.opt.get("permission")

    def url(self, values: dict[str, str]) -> str:
        return PARAM.sub(lambda m: values[m.group(1)], self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def api_endpoints(app: Litestar) -> list[Endpoint]:
    out = []
    for route in app.routes:
        if not route.path.startswith("/api/v1"):
            continue
        for handler in getattr(route, "route_handlers", []):
            data = handler.parsed_fn_signature.parameters.get("data")
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                out.append(Endpoint(method, route.path.replace(":str", ""), dict(handler.opt),
                                    data.annotation if data else None))
    return out


def body_type_name(tp: Any) -> str | None:
    if tp is None:
        return None
    args = getattr(tp, "__args__", None)
    if args:  # Optional[X]
        tp = next(a for a in args if a is not type(None))
    return getattr(tp, "__name__", str(tp))
