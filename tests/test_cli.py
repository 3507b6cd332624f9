"""The `wacc` command, run as a subprocess the way an operator runs it, against a real
database: SQLite in a temporary data directory, or a fresh PostgreSQL database when
WACC_TEST_DATABASE_URL is set. (Helpers it shares with tests/test_process.py: tests/support/cli.py.)
"""

from __future__ import annotations

import base64
import re
import stat
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.cli import query, wacc_env, write_test_plugin
from tests.support.env import PG_URL, REDIS_URL, create_pg_database, drop_pg_database
from wacc.auth.services import TOTP_CONTEXT
from wacc.cli.common import CliState
from wacc.cli.main import app
from wacc.cli.setup import config_template
from wacc.config import describe, load_settings
from wacc.security.crypto import DecryptionError, Keyring, encode_key, new_key
from wacc.security.passwords import verify_password

PASSWORD = "correct horse battery"
OWNER = ["--org", "Acme Test", "--email", "owner@example.com", "--name", "Olivia Owner",
         "--password", PASSWORD]

@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_plugin(tmp_path_factory.mktemp("plugins"))


def wacc(env: dict[str, str], *args: str, input: str | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wacc.cli.main", *args], env=env, input=input,
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """A failure reported the way the CLI promises: non-zero, one line, no traceback."""
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@dataclass
class Install:
    data_dir: Path
    database_url: str
    env: dict[str, str]


@pytest.fixture
async def install(tmp_path: Path) -> AsyncIterator[Install]:
    """A data directory, and a fresh PostgreSQL database when PostgreSQL is under test."""
    url = await create_pg_database() if PG_URL else f"sqlite:///{tmp_path / 'data' / 'wacc.db'}"
    yield Install(tmp_path / "data", url, wacc_env(tmp_path / "data", url))
    if PG_URL:
        await drop_pg_database(url)


@pytest.fixture(scope="module")
async def acme(tmp_path_factory: pytest.TempPathFactory,
               plugin_dir: Path) -> AsyncIterator[Install]:
    """An installation made by `wacc init` with a first owner; tests add to it."""
    data = tmp_path_factory.mktemp("acme") / "data"
    url = await create_pg_database() if PG_URL else f"sqlite:///{data / 'wacc.db'}"
    env = wacc_env(data, url, plugin_dir=plugin_dir)
    ok(wacc(env, "init", "--non-interactive", *OWNER))
    yield Install(data, url, env)
    if PG_URL:
        await drop_pg_database(url)


def test_version() -> None:
    out = ok(wacc(wacc_env(Path("/nonexistent")), "version"))
    assert re.match(r"wacc \d+\.\d+\.\d+ \(Python 3\.\d+", out)


@pytest.mark.parametrize("command", [
    [], ["init"], ["run"], ["migrate"], ["doctor"], ["version"], ["user"], ["user", "create"],
    ["user", "list"], ["user", "reset-password"], ["user", "invite"], ["org", "list"],
    ["plugins", "list"], ["keys", "rotate"], ["keys", "generate"], ["demo"],
])
def test_help_everywhere(command: list[str], tmp_path: Path) -> None:
    # In-process, for speed; settings given up front so nothing reconfigures logging here.
    cli = CliState(_settings=load_settings({"WACC_DATA_DIR": str(tmp_path)}))
    result = CliRunner().invoke(app, [*command, "--help"], obj=cli)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


async def test_init_makes_a_private_key_and_keeps_it(install: Install) -> None:
    out = ok(wacc(install.env, "init", "--non-interactive"))
    key = install.data_dir / "master.key"
    assert stat.S_IMODE(install.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((install.data_dir / "wacc.toml").stat().st_mode) == 0o600
    assert "first owner: none yet" in out
    original = key.read_bytes()

    again = ok(wacc(install.env, "init", "--non-interactive"))
    assert key.read_bytes() == original
    assert "(kept)" in again
    assert await query(install.database_url, "SELECT count(*) FROM organization") == [(0,)]


def test_config_template_is_valid_toml_with_every_default(tmp_path: Path) -> None:
    """Uncommenting every line of the wacc.toml that init writes changes nothing."""
    uncommented = re.sub(r"^# (\w+ = )", r"\1", config_template(), flags=re.M)
    (tmp_path / "wacc.toml").write_text(uncommented)
    assert tomllib.loads(uncommented)
    env = {"WACC_DATA_DIR": str(tmp_path)}
    assert load_settings(env) == load_settings(env, toml_path=tmp_path / "missing.toml")
    shown = {line.split(" = ")[0] for line in uncommented.splitlines() if " = " in line}
    assert shown == {i.name for i in describe()} - {"data_dir"}


async def test_init_with_owner_then_list(acme: Install) -> None:
    users = ok(wacc(acme.env, "user", "list"))
    assert re.search(r"acme-test\s+owner@example\.com\s+Olivia Owner\s+OWNER\s+yes", users)
    orgs = ok(wacc(acme.env, "org", "list"))
    assert re.search(r"acme-test\s+Acme Test\s+FREE", orgs)

    again = ok(wacc(acme.env, "init", "--non-interactive", *OWNER))
    assert "owner@example.com exists already" in again
    rows = await query(acme.database_url, "SELECT count(*) FROM app_user")
    assert rows == [(1,)]


async def test_user_create_reset_password_and_bad_input(acme: Install) -> None:
    ok(wacc(acme.env, "user", "create", "--org-slug", "acme-test", "--email", "Ann@Example.com",
            "--name", "Ann Agent", "--role", "agent", "--password", PASSWORD))
    assert "ann@example.com" in ok(wacc(acme.env, "user", "list", "--org", "acme-test"))

    # Refused with a clear line, and nothing is stored.
    assert "already exists" in one_line_error(wacc(
        acme.env, "user", "create", "--email", "ann@example.com", "--name", "Again",
        "--password", PASSWORD))
    assert "at least 10 characters" in one_line_error(wacc(
        acme.env, "user", "create", "--email", "bob@example.com", "--name", "Bob",
        "--password", "short"))
    assert "not an e-mail address" in one_line_error(wacc(
        acme.env, "user", "create", "--email", "bob", "--name", "Bob", "--password", PASSWORD))
    assert "No organization" in one_line_error(wacc(
        acme.env, "user", "create", "--org", "nope", "--email", "bob@example.com",
        "--name", "Bob", "--password", PASSWORD))
    assert await query(acme.database_url, "SELECT count(*) FROM app_user WHERE email = ?",
                       "bob@example.com") == [(0,)]

    # The new password is prompted for twice (hidden) and replaces the old one.
    new = "a different passphrase"
    out = ok(wacc(acme.env, "user", "reset-password", "--email", "ann@example.com",
                  input=f"{new}\n{new}\n"))
    assert "password of ann@example.com changed" in out
    [(stored,)] = await query(acme.database_url,
                              "SELECT password_hash FROM app_user WHERE email = ?",
                              "ann@example.com")
    assert verify_password(stored, new) and not verify_password(stored, PASSWORD)
    assert "No user" in one_line_error(wacc(
        acme.env, "user", "reset-password", "--email", "nobody@example.com", "--password", new))


async def test_user_invite_prints_the_link_without_smtp(acme: Install) -> None:
    out = ok(wacc(acme.env, "user", "invite", "--org", "acme-test", "--email",
                  "mia@example.com", "--role", "MANAGER"))
    assert "Invite link for mia@example.com (MANAGER in acme-test" in out
    assert re.search(r"^http://wacc\.test/invite/\S{20,}$", out, re.M)
    assert await query(acme.database_url, "SELECT role FROM invite WHERE email = ?",
                       "mia@example.com") == [("MANAGER",)]


def test_plugins_list_and_plugin_commands(acme: Install) -> None:
    out = ok(wacc(acme.env, "plugins", "list"))
    assert re.search(r"^wacc\.auth\.plugin\s+builtin\s+loaded", out, re.M)
    assert re.search(r"^slowpoke\s+wacc-test-plugin\s+0\.1\s+loaded", out, re.M)
    assert re.search(r"^broken\s+wacc-test-plugin\s+0\.1\s+failed\s+ImportError: broken on "
                     r"purpose", out, re.M)
    assert ok(wacc(acme.env, "test-hello")).strip() == "hello from the test plugin"
    assert "test-hello" in ok(wacc(acme.env, "--help"))


def test_doctor(acme: Install, tmp_path: Path) -> None:
    result = wacc(acme.env, "doctor")
    statuses = {m[1]: m[0] for m in re.findall(r"^(OK|WARN|FAIL)\s+(\w+(?: \w+)?)\s{2,}",
                                                 result.stdout, re.M)}
    for name in ("python", "config", "data dir", "disk", "master key", "database", "redis"):
        assert statuses.get(name) == "OK", result.stdout
    assert "chromium" in statuses
    # The installed build carries the pinned wa-js; doctor names its version.
    import json as _json

    pinned = _json.loads((Path(__file__).parents[1] / "package.json").read_text())[
        "dependencies"]["@wppconnect/wa-js"]
    assert re.search(r"^OK\s+wa-js\s+" + re.escape(pinned), result.stdout, re.M), result.stdout
    # Only Chromium depends on the machine; the exit code follows the FAILs.
    assert result.returncode == (1 if "FAIL" in statuses.values() else 0), result.stdout

    shown = ok(wacc({**acme.env, "WACC_SMTP_PASSWORD": "hunter22"}, "doctor", "--settings")
               ) if result.returncode == 0 else wacc(acme.env, "doctor", "--settings").stdout
    assert "smtp.password = ***" in shown and "hunter22" not in shown

    empty = wacc(wacc_env(tmp_path / "nothing"), "doctor")
    assert empty.returncode == 1
    assert re.search(r"^FAIL\s+data dir\s+.*run `wacc init`", empty.stdout, re.M)
    assert re.search(r"^FAIL\s+master key\s+.*missing", empty.stdout, re.M)
    assert re.search(r"^WARN\s+database\s+.*does not exist yet", empty.stdout, re.M)
    assert not (tmp_path / "nothing").exists()  # the doctor only looks

    bad = wacc(wacc_env(tmp_path, WACC_LOG_LEVEL="LOUD"), "doctor")
    assert bad.returncode == 1
    assert re.search(r"^FAIL\s+config\s+WACC_LOG_LEVEL", bad.stdout, re.M)


def test_doctor_flags_a_readable_key_file(tmp_path: Path) -> None:
    env = wacc_env(tmp_path / "data")
    ok(wacc(env, "init", "--non-interactive"))
    (tmp_path / "data" / "master.key").chmod(0o644)
    result = wacc(env, "doctor")
    assert result.returncode == 1
    assert re.search(r"^FAIL\s+master key\s+.*chmod 600", result.stdout, re.M)


def test_bad_database_url_is_one_line(tmp_path: Path) -> None:
    unsupported = wacc(wacc_env(tmp_path, "mysql://db/wacc"), "org", "list")
    assert "WACC_DATABASE_URL: a database URL 'mysql' is not supported" in one_line_error(unsupported)
    assert unsupported.returncode == 78

    unreachable = wacc(wacc_env(tmp_path, "postgresql://wacc@127.0.0.1:1/wacc"), "migrate")
    assert "cannot reach the database at 127.0.0.1:1/wacc" in one_line_error(unreachable)

    # Without --debug nothing shows a traceback; with it, the traceback is there.
    debug = wacc(wacc_env(tmp_path, "postgresql://wacc@127.0.0.1:1/wacc"), "--debug", "migrate")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_missing_or_unreadable_key_file(tmp_path: Path) -> None:
    env = wacc_env(tmp_path / "data")
    ok(wacc(env, "init", "--non-interactive"))
    key = tmp_path / "data" / "master.key"
    key.unlink()
    error = one_line_error(wacc(env, "user", "invite", "--email", "x@example.com"))
    assert "no master key" in error and "wacc init" in error
    # Existing data and no key: `wacc run` must not make up a new key either.
    assert "no master key" in one_line_error(wacc(env, "run"))
    assert not key.exists()

    key.mkdir()  # unreadable as a file, even for root
    assert "cannot read master key" in one_line_error(wacc(env, "run"))
    key.rmdir()
    key.write_text("not a key\n")
    assert "not a base64 key" in one_line_error(wacc(env, "run"))


def test_run_refuses_unknown_roles(tmp_path: Path) -> None:
    env = wacc_env(tmp_path, WACC_ROLES="web,mailman", WACC_SECRET_KEY=encode_key(new_key()))
    result = wacc(env, "run")
    assert "WACC_ROLES: each must be one of web, worker, scheduler, wa, got 'mailman'" in \
        one_line_error(result)
    assert result.returncode == 78


TOTP_SECRET = "JBSWY3DPEHPK3PXP"


async def _seal_totp(install: Install, keyring: Keyring) -> None:
    await query(install.database_url, "UPDATE app_user SET totp_secret = ? WHERE email = ?",
                keyring.encrypt(TOTP_SECRET, TOTP_CONTEXT), "owner@example.com")


async def _stored_totp(install: Install) -> str:
    [(sealed,)] = await query(install.database_url,
                              "SELECT totp_secret FROM app_user WHERE email = ?",
                              "owner@example.com")
    return sealed


def _file_keys(install: Install) -> list[bytes]:
    return [base64.b64decode(line)
            for line in (install.data_dir / "master.key").read_text().split()]


async def test_keys_rotate_reencrypts_secrets(install: Install) -> None:
    ok(wacc(install.env, "init", "--non-interactive", *OWNER))
    [old] = _file_keys(install)
    await _seal_totp(install, Keyring((old,)))

    # A role reporting in means wacc runs with the old key in memory: refused.
    await query(install.database_url,
                "INSERT INTO role_heartbeat (id, role, host, pid, started_at, seen_at) "
                "VALUES ('worker:elsewhere:1', 'worker', 'elsewhere', 1, ?, ?)",
                *[datetime.now(UTC)] * 2)
    assert "wacc is running" in one_line_error(wacc(install.env, "keys", "rotate"))
    await query(install.database_url, "DELETE FROM role_heartbeat")

    out = ok(wacc(install.env, "keys", "rotate"))
    assert "re-encrypted 1 secret(s)" in out
    [new] = _file_keys(install)
    assert new != old
    sealed = await _stored_totp(install)
    assert Keyring((new,)).decrypt(sealed, TOTP_CONTEXT) == TOTP_SECRET
    with pytest.raises(DecryptionError):
        Keyring((old,)).decrypt(sealed, TOTP_CONTEXT)

    # Interrupted after writing [newer, new] and before re-encrypting: run it again.
    newer = new_key()
    (install.data_dir / "master.key").write_text(f"{encode_key(newer)}\n{encode_key(new)}\n")
    out = ok(wacc(install.env, "keys", "rotate"))
    assert "finishing an interrupted rotation" in out
    assert _file_keys(install) == [newer]
    assert Keyring((newer,)).decrypt(await _stored_totp(install), TOTP_CONTEXT) == TOTP_SECRET

    # With the key in the environment: re-encrypt from WACC_SECRET_KEY_PREVIOUS.
    env_key = new_key()
    env = {**install.env, "WACC_SECRET_KEY": encode_key(env_key),
           "WACC_SECRET_KEY_PREVIOUS": encode_key(newer)}
    out = ok(wacc(env, "keys", "rotate"))
    assert "remove WACC_SECRET_KEY_PREVIOUS" in out
    sealed = await _stored_totp(install)
    assert Keyring((env_key,)).decrypt(sealed, TOTP_CONTEXT) == TOTP_SECRET

    # A secret that no known key opens stops the rotation before anything changes.
    await _seal_totp(install, Keyring((new_key(),)))
    error = one_line_error(wacc(install.env, "keys", "rotate"))
    assert "1 secret(s) could not be decrypted" in error and "Nothing was changed" in error
    assert _file_keys(install) == [newer]


@pytest.mark.skipif(not REDIS_URL, reason="Redis is not under test (WACC_TEST_REDIS_URL)")
def test_doctor_checks_redis(acme: Install) -> None:
    result = wacc({**acme.env, "WACC_REDIS_URL": "redis://127.0.0.1:1/0"}, "doctor")
    assert result.returncode == 1
    assert re.search(r"^FAIL\s+redis\s+no answer", result.stdout, re.M)
    good = wacc({**acme.env, "WACC_REDIS_URL": REDIS_URL}, "doctor")
    assert re.search(r"^OK\s+redis\s+answers", good.stdout, re.M)


def test_unknown_setting_is_one_line(tmp_path: Path) -> None:
    result = wacc(wacc_env(tmp_path, WACC_BOGUS="1"), "org", "list")
    assert "WACC_BOGUS: unknown setting" in one_line_error(result)


def test_init_prompts_for_a_missing_password(install: Install) -> None:
    out = ok(wacc(install.env, "init", "--org", "Prompted", "--email", "p@example.com",
                  "--name", "Pat", input=f"{PASSWORD}\n{PASSWORD}\n"))
    assert "first owner: created p@example.com" in out
    refused = wacc(install.env, "init", "--non-interactive", "--org", "X", "--email",
                   "x@example.com")
    assert refused.returncode == 0  # an organization exists: nothing to ask for
    assert "organizations exist already" in refused.stdout


def test_usage_errors_are_typers(tmp_path: Path) -> None:
    result = wacc(wacc_env(tmp_path), "user", "create", "--bogus")
    assert result.returncode == 2
    assert "No such option" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_base_url_stops_commands_and_doctor_names_it(acme: Install) -> None:
    bad = {**acme.env, "WACC_BASE_URL": "not-a-url"}
    error = one_line_error(wacc(bad, "user", "invite", "--email", "x@example.com"))
    assert error.startswith("Error: WACC_BASE_URL: ") and "'not-a-url'" in error
    assert "WACC_BASE_URL" in one_line_error(wacc(bad, "run"))
    doctor = wacc(bad, "doctor")
    assert doctor.returncode == 1
    assert re.search(r"^FAIL\s+config\s+WACC_BASE_URL: .*'not-a-url'", doctor.stdout, re.M)

    def base_url_line(env: dict[str, str]) -> str:
        out = wacc(env, "doctor").stdout
        found = re.search(r"^(OK|WARN|FAIL)\s+base url\s+(.*)$", out, re.M)
        assert found, out
        return f"{found[1]} {found[2]}"

    assert base_url_line(acme.env) == "OK http://wacc.test"
    unset = {k: v for k, v in acme.env.items() if k != "WACC_BASE_URL"}
    line = base_url_line({**unset, "WACC_HTTP_PORT": "18731"})
    assert line.startswith("WARN WACC_BASE_URL is not set: links use http://127.0.0.1:18731")
    assert base_url_line({**acme.env, "WACC_BASE_URL": "http://localhost:8000"}).startswith(
        "WARN http://localhost:8000 opens only on this machine")


async def test_links_follow_the_port_of_wacc_run_when_base_url_is_unset(
        install: Install, tmp_path: Path) -> None:
    """`wacc run --port P` without WACC_BASE_URL: invites from the API and from `wacc user
    invite` in another shell, and the password-reset e-mail, all link to port P."""
    import asyncio
    import os
    import signal
    from email import message_from_bytes

    import httpx
    from aiosmtpd.controller import Controller

    from tests.support.env import free_port

    received: list[str] = []

    class Inbox:
        async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it so
            received.append(message_from_bytes(envelope.content).as_string())
            return "250 OK"

    smtp = Controller(Inbox(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    env = {k: v for k, v in install.env.items() if k != "WACC_BASE_URL"}
    ok(wacc(env, "init", "--non-interactive", *OWNER))
    port = free_port()
    run_env = {**env, "WACC_SMTP_HOST": "127.0.0.1", "WACC_SMTP_PORT": str(smtp.port),
               "WACC_SMTP_SECURITY": "none"}
    log = (tmp_path / "run.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "wacc.cli.main", "run", "--port", str(port)],
                               env=run_env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for _ in range(600):
                assert process.poll() is None, (tmp_path / "run.log").read_text()
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            r = await client.post("/api/v1/auth/login",
                                  json={"email": "owner@example.com", "password": PASSWORD})
            assert r.status_code == 200, r.text
            org = r.json()["user"]["organizationId"]
            head = {"Authorization": f"Bearer {r.json()['accessToken']}"}
            # Team → Invite (e-mailed, as SMTP is set) and "Forgot password".
            r = await client.post(f"/api/v1/organizations/{org}/users", headers=head,
                                  json={"email": "ann@example.com", "role": "AGENT"})
            assert r.status_code == 201, r.text
            r = await client.post("/api/v1/auth/password/forgot",
                                  json={"email": "owner@example.com"})
            assert r.status_code in (200, 202, 204), r.text
            for _ in range(300):
                if len(received) >= 2:
                    break
                await asyncio.sleep(0.1)
        invite = next(m for m in received if "/invite/" in m)
        reset = next(m for m in received if "/reset/" in m)
        assert f"{base}/invite/" in invite and ":8000" not in invite
        assert f"{base}/reset/" in reset and ":8000" not in reset
        # Another shell, same data directory, no SMTP: the printed link has the same port.
        out = ok(wacc(env, "user", "invite", "--email", "bo@example.com"))
        assert re.search(rf"^{re.escape(base)}/invite/\S{{20,}}$", out, re.M), out
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        log.close()
        smtp.stop()


async def test_init_refuses_a_bad_owner_before_making_anything(install: Install) -> None:
    """`wacc init --non-interactive` checks every owner option first: one line, a non-zero
    exit and no half-prepared data directory (issue 16); done, it says what it did in
    words, not in migration-runner output."""
    said = one_line_error(wacc(install.env, "init", "--non-interactive", "--org", "Acme",
                               "--email", "a@example.com", "--name", "Ann", "--password", "short"))
    assert said.startswith("Error: --password: ") and "at least 10 characters" in said
    assert "not an e-mail address" in one_line_error(wacc(
        install.env, "init", "--non-interactive", "--org", "Acme", "--email", "nope",
        "--name", "Ann", "--password", PASSWORD))
    assert not install.data_dir.exists()
    # Options left out are known to matter once the database says no organization exists.
    partial = wacc(install.env, "init", "--non-interactive", "--org", "Acme", "--email",
                   "a@example.com")
    assert one_line_error(partial).startswith("Error: --name, --password: needed for the first owner")
    assert re.search(r"^database: \d+ migrations applied$", partial.stdout, re.M), partial.stdout
    assert "[forwards]" not in partial.stdout

    out = ok(wacc(install.env, "init", "--non-interactive", "--org", "Acme", "--email",
                  "a@example.com", "--name", "Ann", "--password", PASSWORD))
    assert "first owner: created a@example.com" in out
    assert ok(wacc(install.env, "migrate")).strip() == "database: up to date (no migration pending)"


def test_settings_a_run_would_refuse_are_refused_by_doctor_too(tmp_path: Path) -> None:
    a_file = tmp_path / "hostname"
    a_file.write_text("box\n")
    cases = [
        ({"WACC_ROLES": "web,foo"}, "WACC_ROLES: each must be one of web, worker, scheduler, "
         "wa, got 'foo'"),
        ({"WACC_DATA_DIR": str(a_file)}, f"WACC_DATA_DIR: {a_file} is a file, not a directory"),
        ({"WACC_DATABASE_URL": "mysql://root:hunter22@localhost/db"},
         "WACC_DATABASE_URL: a database URL 'mysql' is not supported"),
    ]
    for extra, said in cases:
        env = {**wacc_env(tmp_path / "data"), **extra}
        doctor = wacc(env, "doctor")
        assert doctor.returncode == 1
        assert re.search(r"^FAIL\s+config\s+" + re.escape(said), doctor.stdout, re.M), doctor.stdout
        run = wacc(env, "run")
        assert one_line_error(run).startswith(f"Error: {said}")
        assert run.returncode == 78  # EX_CONFIG: a restart cannot help
        assert "hunter22" not in doctor.stdout + run.stderr
