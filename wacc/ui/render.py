"""Template environment and the context every page gets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig
from markupsafe import Markup, escape

from wacc.assets import templates_dir, vendor_manifest
from wacc.lib.clock import utcnow
from wacc.security.principal import Principal
from wacc.ui.icons import icon

_URL = re.compile(r"\bhttps?://[^\s<>\"']{1,2000}", re.IGNORECASE)


def linkify(text: str | None) -> Markup:
    """Escape *text*, then turn http(s) URLs into links that cannot run script and do not
    leak the inbox's address to the site (rel=noopener noreferrer nofollow)."""
    if not text:
        return Markup("")
    out: list[Markup] = []
    last = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?)")
        start, end = match.start(), match.start() + len(url)
        out.append(escape(text[last:start]))
        if urlsplit(url).scheme.lower() in ("http", "https"):
            out.append(Markup('<a href="{0}" target="_blank" rel="noopener noreferrer nofollow">'
                              "{0}</a>").format(url))
        else:
            out.append(escape(url))
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


def timeago(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    seconds = int((utcnow() - value).total_seconds())
    if seconds < 60:
        return "just now"
    for size, unit in ((86_400 * 7, "w"), (86_400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return ""


def clock(value: datetime | None, timezone: str = "UTC") -> str:
    """A time of day as wacc shows it everywhere: 24-hour HH:MM in the organization's
    time zone. Times a page's script draws use wacc.clock (static/js/app.js), the same
    format and zone (the inbox said 14:05 in UTC, the customer phone 2:05 PM local)."""
    if value is None:
        return ""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return value.astimezone(zone).strftime("%H:%M")


def initials(name: str | None) -> str:
    parts = [p for p in (name or "?").split() if p[:1].isalnum()]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


def to_plain(value: Any) -> Any:
    """A msgspec struct (or list of them) as the camelCase JSON the API would send, for
    data-* attributes that the page's script reads."""
    return msgspec.json.decode(msgspec.json.encode(value))


@cache
def _vendor_urls() -> dict[str, tuple[str, str]]:
    """{"htmx.org/htmx.min.js": (url, sri)} from the build manifest."""
    out: dict[str, tuple[str, str]] = {}
    try:
        manifest = vendor_manifest()
    except FileNotFoundError:
        return out
    for name, entry in manifest.get("packages", {}).items():
        for file in entry.get("files", []):
            out[f"{name}/{file}"] = (f"/static/vendor/{name}/{file}",
                                     entry.get("integrity", {}).get(file, ""))
    return out


def vendor_script(path: str) -> Markup:
    """<script> for a vendored file, pinned by its subresource-integrity hash."""
    url, sri = _vendor_urls().get(path, (f"/static/vendor/{path}", ""))
    if sri:
        return Markup('<script src="{}" integrity="{}" defer></script>').format(url, sri)
    return Markup('<script src="{}" defer></script>').format(url)


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir())), autoescape=True,
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(linkify=linkify, timeago=timeago, initials=initials, clock=clock)
    env.globals.update(vendor_script=vendor_script, to_plain=to_plain, icon=icon)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


@dataclass
class PageContext:
    """What the layout needs on every page: who is signed in and where they are."""

    principal: Principal | None = None
    user: Any = None
    organization: Any = None
    csrf: str = ""
    section: str = ""
    permissions: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def timezone(self) -> str:
        """The organization's time zone, in which every page shows times of day."""
        settings = getattr(self.organization, "settings", None) or {}
        return str(settings.get("timezone") or "UTC")


def page(request: Request, name: str, section: str = "", status_code: int = 200,
         **context: Any) -> Template:
    """Render *name* with the layout's context (set up by wacc.ui.session)."""
    ui: PageContext = request.scope.get("state", {}).get("ui") or PageContext()
    ui.section = section
    return Template(template_name=name, context={"ui": ui, "request": request, **context},
                    status_code=status_code)
