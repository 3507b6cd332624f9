"""Icons come from the pinned SVG set (issue 16), never from an emoji font: a stock
Debian server's browser has none and drew 📎, 🔒 and 👤 as empty boxes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import hatch_build
from wacc.assets import vendor_dir
from wacc.ui.icons import PACKAGE, icon

REPO = Path(__file__).resolve().parent.parent
# Pictographs and symbols that need an emoji (or symbol) font, and the emoji selector.
NEEDS_EMOJI_FONT = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2300-\u23FF\u2B00-\u2BFF\uFE0F]")
# Emoji that are content, not icons: the composer's emoji list inserts them into a
# message and the customer phone reacts with them.
CONTENT = re.compile(r"const EMOJI = \[.*?\];", re.DOTALL)


def _ui_sources() -> list[Path]:
    return sorted([*(REPO / "templates").rglob("*.html"), *(REPO / "static").rglob("*.js"),
                   *(REPO / "static").rglob("*.css"), *(REPO / "wacc" / "ui").rglob("*.py")])


def test_no_emoji_stands_in_for_an_icon() -> None:
    found = []
    for path in _ui_sources():
        text = CONTENT.sub("", path.read_text(encoding="utf-8"))
        for number, line in enumerate(text.splitlines(), 1):
            if NEEDS_EMOJI_FONT.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:80]}")
    assert found == []


def _used_icons() -> set[str]:
    names: set[str] = set()
    for path in _ui_sources():
        text = path.read_text(encoding="utf-8")
        names.update(re.findall(r"""icon\(["']([a-z0-9-]+)["']""", text))
        names.update(re.findall(r"""\[["']([a-z0-9-]+)["'], """, text) if path.name == "simulator.js"
                     else ())
        for group in re.findall(r"for name in \(([^)]*)\) %\}\{\{ icon\(name\)", text):
            names.update(re.findall(r'"([a-z0-9-]+)"', group))
        for mapping in re.findall(r"_PREVIEW_ICON = \{(.*?)\}", text, re.DOTALL):
            names.update(re.findall(r':\s*"([a-z0-9-]+)"', mapping))
    return names


def test_every_icon_used_is_vendored_and_renders() -> None:
    used = _used_icons()
    assert {"paperclip", "lock", "contact-round", "check-check"} <= used
    shipped = {Path(rel).stem for rel in hatch_build.VENDOR[PACKAGE]["files"]}
    assert used - shipped == set(), "listed in hatch_build.VENDOR"
    for name in used:
        svg = str(icon(name))
        assert svg.startswith('<svg class="icon icon-') and 'aria-hidden="true"' in svg
        assert 'stroke="currentColor"' in svg and ("<path" in svg or "<circle" in svg)
    assert (vendor_dir() / PACKAGE / "LICENSE").is_file()


def test_an_icon_that_is_not_vendored_fails_loudly() -> None:
    with pytest.raises(LookupError, match=r"hatch_build\.VENDOR"):
        icon("not-an-icon")
    with pytest.raises(ValueError):
        icon("../../etc/passwd")
    labelled = str(icon("check-check", "Read"))
    assert 'role="img" aria-label="Read"' in labelled and "aria-hidden" not in labelled
