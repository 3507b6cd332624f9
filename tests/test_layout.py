"""The test suite's own layout: a test module never imports another test module or a
conftest.py. What two modules share is a plain helper in tests/support/ (or one of the
older support modules) or a fixture in a conftest.py, which pytest hands to every test
below it without an import. The fake AI providers exist once (tests/fakes/ai_providers.py),
served by the fixtures of the conftests; a copy in a test module fails here."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _is_forbidden(module: str) -> bool:
    """A dotted module name that is a test module or a conftest."""
    last = module.rsplit(".", 1)[-1]
    return last.startswith("test_") or last == "conftest"


def _package_of(path: Path) -> str:
    return ".".join(path.relative_to(TESTS.parent).with_suffix("").parts[:-1])


def forbidden_imports(source: str, package: str) -> list[str]:
    """Imports in *source* (a module of *package*) of a test module or a conftest, as
    "line: module" strings."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: {a.name}" for a in node.names if _is_forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(filter(None, [*parts, base]))
            if base and _is_forbidden(base):
                found.append(f"{node.lineno}: {base}")
            elif base.split(".", 1)[0] == "tests":
                # `from tests import test_x` / `from tests.cloud import conftest`
                found += [f"{node.lineno}: {base}.{a.name}" for a in node.names
                          if _is_forbidden(a.name)]
    return found


def test_no_test_module_imports_another_test_module_or_a_conftest() -> None:
    modules = sorted(TESTS.rglob("test_*.py")) + sorted(TESTS.rglob("conftest.py"))
    modules += sorted((TESTS / "support").rglob("*.py"))
    assert len(modules) > 50  # the walk found the suite
    offences = [f"{path.relative_to(TESTS.parent)}:{hit}"
                for path in modules
                for hit in forbidden_imports(path.read_text(), _package_of(path))]
    assert offences == [], ("move what is shared to tests/support/ (helpers) or a "
                            "conftest.py (fixtures):\n" + "\n".join(offences))


def test_the_check_sees_every_form_of_the_import() -> None:
    bad = """
import tests.test_whatsapp
from tests.test_whatsapp import until
from tests import helpers, test_automations
from tests.conftest import free_port
from tests.e2e.conftest import sign_in
from .test_engine import wired
from . import conftest
def later():
    from tests.test_cli import query
"""
    assert forbidden_imports(bad, "tests.cloud") == [
        "2: tests.test_whatsapp", "3: tests.test_whatsapp", "4: tests.test_automations",
        "5: tests.conftest", "6: tests.e2e.conftest", "7: tests.cloud.test_engine",
        "8: tests.cloud.conftest", "10: tests.test_cli",
    ]
    fine = """
from tests.support.polling import until
from tests.helpers import API
from tests.cloud.support import wired
from tests.fakes.ai_providers import FakeOpenAI
from .support import wired
import pytest
"""
    assert forbidden_imports(fine, "tests.cloud") == []


# The fake AI providers and the fixtures that serve them: one definition each.
AI_FAKES = "tests/fakes/ai_providers.py"
AI_FAKE_CLASSES = {"FakeProvider", "FakeOpenAI", "FakeAnthropic", "FakeGemini"}
AI_FAKE_FIXTURES = {"servers": "tests/conftest.py", "fakes": "tests/conftest.py",
                    "openai_fake": "tests/e2e/conftest.py"}


def ai_fake_definitions(source: str) -> tuple[list[str], list[str]]:
    """Classes in *source* that are (or extend) a fake AI provider, and functions named
    like the fixtures that serve them."""
    classes, functions = [], []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
            if node.name in AI_FAKE_CLASSES or bases & AI_FAKE_CLASSES:
                classes.append(node.name)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in AI_FAKE_FIXTURES:
            functions.append(node.name)
    return classes, functions


def test_the_ai_fakes_and_their_fixtures_are_defined_once() -> None:
    offences = []
    for path in sorted(TESTS.rglob("*.py")):
        name = str(path.relative_to(TESTS.parent))
        classes, functions = ai_fake_definitions(path.read_text())
        offences += [f"{name}: class {c}" for c in classes if name != AI_FAKES]
        offences += [f"{name}: def {f}" for f in functions if AI_FAKE_FIXTURES[f] != name]
    assert offences == [], ("use the fakes of tests/fakes/ai_providers.py (served by "
                            "tests/support/ai.py and the conftest fixtures):\n" + "\n".join(offences))


def test_the_ai_fakes_check_sees_a_copy() -> None:
    copy = """
class FakeOpenAI:
    pass
class Louder(FakeProvider):
    pass
@pytest.fixture
async def servers():
    yield None
"""
    assert ai_fake_definitions(copy) == (["FakeOpenAI", "Louder"], ["servers"])
