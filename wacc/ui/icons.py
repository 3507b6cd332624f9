"""Icons of the web UI: SVG files of the pinned `lucide-static` npm package (listed in
hatch_build.VENDOR), inlined into the page.

Inline, not <img>: the icon takes the text colour (``stroke="currentColor"``) and costs
no request. Emoji used as icons needed an emoji font, which a stock server or desktop
Linux often lacks, so they drew empty boxes.
"""

from __future__ import annotations

import re
from functools import cache

from markupsafe import Markup

from wacc.assets import vendor_dir

PACKAGE = "lucide-static"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
_DROP = re.compile(r'\s(?:class|width|height)="[^"]*"')


@cache
def _svg(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not an icon name: {name!r}")
    path = vendor_dir() / PACKAGE / f"{name}.svg"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LookupError(f"icon {name!r} is not vendored: add icons/{name}.svg to "
                          "hatch_build.VENDOR and rebuild") from None
    found = _SVG.search(text)
    if found is None:
        raise LookupError(f"{path} holds no <svg> element")
    return " ".join(_DROP.sub("", found.group(0)).split())


def icon(name: str, label: str | None = None) -> Markup:
    """The icon *name* as inline SVG. Decorative (hidden from screen readers) unless a
    *label* says what it means on its own."""
    if label:
        attrs = Markup(' class="icon icon-{}" role="img" aria-label="{}"').format(name, label)
    else:
        attrs = Markup(' class="icon icon-{}" aria-hidden="true" focusable="false"').format(name)
    # The SVG is a file of the pinned package, checked by the build (not user input), so
    # it goes into the page as markup.
    svg = Markup(_svg(name))  # noqa: S704
    return svg[:4] + attrs + svg[4:]  # the attributes go right after "<svg"


