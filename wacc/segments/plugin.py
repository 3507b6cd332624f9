"""The segments feature's hooks."""

from __future__ import annotations

from typing import Any

from wacc.contacts import links
from wacc.plugins.spec import hookimpl
from wacc.segments import contact_links

# A contact merge moves memberships through this (contacts cannot import segments).
links.register(contact_links.LINKS)


@hookimpl
def wacc_controllers() -> list[Any]:
    # Imported here: processes that serve no HTTP (worker, scheduler) never load it.
    from wacc.segments.controllers import SegmentController

    return [SegmentController]
