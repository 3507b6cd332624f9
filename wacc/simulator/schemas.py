from __future__ import annotations

from typing import Annotated, Any

import msgspec

from wacc.http.schemas import Input


class SimulateIn(Input):
    """A customer-phone action for a simulator session (see docs/engines.md)."""

    action: Annotated[str, msgspec.Meta(pattern=r"^[a-z_]{2,20}$")]
    payload: dict[str, Any] = {}
