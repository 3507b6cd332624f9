"""The end-to-end tests' plain helpers (their fixtures are in tests/e2e/conftest.py):
the `wacc run` process under test, signing up and in, a connected simulator session,
and the page accessibility check."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

PASSWORD = "correct-horse-battery"


@dataclass
class WaccProcess:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=15)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


_A11Y_PROBLEMS = (Path(__file__).resolve().parents[1] / "e2e" / "a11y.js").read_text()


def accessibility_problems(page: Any) -> list[str]:
    problems: list[str] = page.evaluate(_A11Y_PROBLEMS)
    return problems


def register_owner(server: WaccProcess, email: str = "owner@example.com",
                   name: str = "Olivia Owner", organization: str = "Acme Support") -> dict[str, Any]:
    """Create the organization and its owner through the API (for modules that do not
    test the wizard itself). Returns the API's token response."""
    with server.api() as http:
        response = http.post("/api/v1/auth/register", json={
            "organizationName": organization, "name": name, "email": email,
            "password": PASSWORD,
        })
        assert response.status_code == 201, response.text
        return response.json()


def until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll (the API, not the page) until *check* returns something truthy."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"condition not met: {check.__name__}"
        time.sleep(0.1)
    return result


def connected_simulator(http: httpx.Client, head: dict[str, str],
                        name: str = "Front desk") -> str:
    """A simulator session, scanned by its simulated phone and connected; its id."""
    r = http.post("/api/v1/whatsapp/sessions", headers=head,
                  json={"name": name, "engine": "simulator"})
    assert r.status_code == 201, r.text
    sid: str = r.json()["id"]

    def status() -> str:
        return str(http.get(f"/api/v1/whatsapp/sessions/{sid}", headers=head).json()["status"])

    until(lambda: status() == "QR_READY")
    r = http.post(f"/api/v1/whatsapp/sessions/{sid}/simulator", headers=head,
                  json={"action": "scan"})
    assert r.status_code == 200, r.text
    until(lambda: status() == "CONNECTED")
    return sid


def sign_in(page: Any, email: str, password: str = PASSWORD, then: str = "/inbox") -> None:
    """Sign in through the login form, like a person following a link to *then*, and
    wait until that page (its path: /login?next=… must not count as arrived) loads."""
    page.goto(f"/login?next={quote(then, safe='/')}")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path == then)
