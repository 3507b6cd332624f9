"""`wacc run` as a real process tree: it becomes healthy and ready, runs jobs enqueued
from elsewhere on its worker, restarts a killed role, and drains in-flight requests and
jobs on SIGTERM. Embedded (SQLite, SQLite queue) always; PostgreSQL + Redis as well when
WACC_TEST_DATABASE_URL and WACC_TEST_REDIS_URL are set.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.cli import query, wacc_env, write_test_plugin
from tests.support.env import PG_URL, REDIS_URL, create_pg_database, drop_pg_database, free_port
from tests.support.processes import eventually, role_pids, running, status
from wacc.config import Settings, load_settings
from wacc.features import BUILTIN_PLUGINS
from wacc.plugins.manager import PluginManager
from wacc.queue.jobs import Jobs
from wacc.runtime import Runtime
from wacc.security.crypto import encode_key, load_keyring, new_key

pytestmark = pytest.mark.slow

STOP_SECONDS = 15
TIMING = {
    "WACC_WORKER_HEARTBEAT_SECONDS": "1",
    "WACC_RESTART_MAX_SECONDS": "2",
    "WACC_STOP_SECONDS": str(STOP_SECONDS),
    "WACC_HTTP_SHUTDOWN_SECONDS": "10",
    "WACC_WORKER_THREADS": "2",
}


@dataclass
class Deployment:
    env: dict[str, str]
    settings: Settings
    database_url: str
    url: str
    log: Path


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_plugin(tmp_path_factory.mktemp("plugins"))


def _backends() -> list[str]:
    return ["embedded", "scaled"] if PG_URL and REDIS_URL else ["embedded"]


@pytest.fixture(params=_backends())
async def deployment(request: pytest.FixtureRequest, tmp_path: Path,
                     plugin_dir: Path) -> AsyncIterator[Deployment]:
    port = free_port()
    data = tmp_path / "data"
    extra = {**TIMING, "WACC_HTTP_PORT": str(port)}
    if request.param == "scaled":
        url = await create_pg_database()
        # With a shared database the key must come from outside; `wacc run` never makes one.
        extra |= {"WACC_REDIS_URL": REDIS_URL, "WACC_SECRET_KEY": encode_key(new_key())}
    else:
        url = f"sqlite:///{data / 'wacc.db'}"  # no key: the first `wacc run` makes it
    env = wacc_env(data, url if request.param == "scaled" else "", plugin_dir=plugin_dir,
                   **extra)
    settings = load_settings({k: v for k, v in env.items() if k.startswith("WACC_")})
    yield Deployment(env, settings, url, f"http://127.0.0.1:{port}", tmp_path / "wacc.log")
    if request.param == "scaled":
        await drop_pg_database(url)


def jobs_of(settings: Settings, plugin_dir: Path) -> Jobs:
    """The job queue as another process (the web role, say) sees it: wacc's own jobs and
    the test plugin's, registered under the names the worker knows them by."""
    runtime = Runtime.build(settings, load_keyring(settings),
                            PluginManager(["none"], BUILTIN_PLUGINS))
    spec = importlib.util.spec_from_file_location("wacc_test_plugin",
                                                  plugin_dir / "wacc_test_plugin.py")
    assert spec and spec.loader
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)  # not on sys.path: other tests never see it
    plugin.wacc_tasks(jobs=runtime.jobs, run=None)
    return runtime.jobs


async def test_run_supervises_roles(deployment: Deployment, plugin_dir: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    d = deployment
    started = time.monotonic()
    with running(d.env, d.log) as supervisor:
        await eventually(lambda: status(f"{d.url}/health") == 200, 60, "/health", d.log)
        healthy = time.monotonic() - started
        await eventually(lambda: status(f"{d.url}/health/ready") == 200, 60, "ready", d.log)
        ready = time.monotonic() - started
        with capsys.disabled():
            print(f"\n[{'embedded' if d.settings.embedded else 'scaled'}] `wacc run`: "
                  f"/health 200 after {healthy:.2f}s, /health/ready 200 after {ready:.2f}s")
        # web and worker start first; scheduler and wa once the web role answers.
        await eventually(lambda: set(role_pids(supervisor.pid)) == {
            "web", "worker", "scheduler", "wa"}, 30, "all four roles", d.log)
        # A second `wacc run` on the same data, or on the port this one holds, starts
        # nothing: one line, a non-zero exit (issue 16).
        other = {**d.env, "WACC_DATA_DIR": str(tmp_path / "other")}
        for env, said in ((d.env, "wacc is already running on"), (other, "is in use")):
            second = subprocess.run([sys.executable, "-m", "wacc.cli.main", "run"], env=env,
                                    capture_output=True, text=True, timeout=60)
            assert second.returncode != 0
            assert second.stderr.startswith("Error: ") and said in second.stderr, second.stderr
            assert len(second.stderr.strip().splitlines()) == 1, second.stderr
        assert not (tmp_path / "other" / "wacc.db").exists()
        assert set(role_pids(supervisor.pid)) == {"web", "worker", "scheduler", "wa"}
        if d.settings.embedded:
            assert (d.settings.data_path / "master.key").stat().st_mode & 0o777 == 0o600

        # A job enqueued outside the worker (as the web role would) runs on the worker.
        jobs = jobs_of(d.settings, plugin_dir)
        jobs.enqueue("test.sleep", 0.0, str(tmp_path / "quick"))
        await eventually((tmp_path / "quick.done").exists, 30, "the job to run", d.log)

        # A killed role is started again, and the new process reports in.
        worker = role_pids(supervisor.pid)["worker"]
        os.kill(worker, signal.SIGKILL)
        new_worker = await eventually(
            lambda: (pid := role_pids(supervisor.pid).get("worker")) not in (None, worker)
            and pid, 30, "a new worker", d.log)

        async def new_worker_beats() -> bool:
            rows = await query(d.database_url,
                               "SELECT pid FROM role_heartbeat WHERE role = 'worker'")
            return (new_worker,) in rows

        await eventually(new_worker_beats, 30, "the new worker's heartbeat", d.log)
        roles = role_pids(supervisor.pid)

        # SIGTERM while a request and a job are in flight: both finish, then all exit 0.
        job_started, request_started = tmp_path / "job-started", tmp_path / "request-started"
        jobs.enqueue("test.sleep", 3.0, str(job_started))
        responses: list[httpx.Response] = []
        request = threading.Thread(target=lambda: responses.append(httpx.get(
            f"{d.url}/api/v1/test/slow", params={"seconds": 3, "started": str(request_started)},
            timeout=30)))
        request.start()
        await eventually(job_started.exists, 30, "the slow job to start", d.log)
        await eventually(request_started.exists, 30, "the slow request to start", d.log)
        stop_sent = time.monotonic()
        supervisor.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(supervisor.wait, STOP_SECONDS + 5)
        stopped_in = time.monotonic() - stop_sent
        request.join(30)

    assert code == 0, d.log.read_text()[-4000:]
    assert stopped_in < STOP_SECONDS, stopped_in
    assert responses and responses[0].status_code == 200, responses
    assert responses[0].json() == {"slept": 3}
    assert (tmp_path / "job-started.done").read_text() == "slept 3.0"  # drained, not cut
    for pid in roles.values():
        assert not Path(f"/proc/{pid}").exists(), f"role process {pid} outlived the supervisor"
    # Every line the process tree wrote is a structured (JSON) log line.
    lines = d.log.read_text().splitlines()
    assert lines and all(json.loads(line)["event"] for line in lines)
    stop_lines = [json.loads(line) for line in lines if '"role stopped"' in line]
    assert {entry["child_role"] for entry in stop_lines} == {"web", "worker", "scheduler", "wa"}
    assert all(entry["exit_code"] == 0 for entry in stop_lines), stop_lines


async def test_single_web_role(tmp_path: Path) -> None:
    """`wacc run --role web` alone (one machine of several): migrates, serves, and is not
    ready without a worker anywhere."""
    port = free_port()
    env = wacc_env(tmp_path / "data", WACC_SECRET_KEY=encode_key(new_key()), **TIMING)
    log = tmp_path / "web.log"
    with running(env, log, "--role", "web", "--port", str(port)) as web:
        url = f"http://127.0.0.1:{port}"
        await eventually(lambda: status(f"{url}/health") == 200, 60, "/health", log)
        ready = httpx.get(f"{url}/health/ready").json()
        assert ready["checks"]["database"]["ok"] is True
        assert ready["checks"]["worker"]["ok"] is False
        web.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(web.wait, STOP_SECONDS) == 0, log.read_text()


def test_scheduler_enqueues_the_plugins_entries(tmp_path: Path) -> None:
    """The scheduler role's entries come from wacc_schedule, and they only enqueue."""
    from apscheduler.triggers.cron import CronTrigger

    from wacc.roles.scheduler import build_scheduler

    settings = load_settings({"WACC_DATA_DIR": str(tmp_path),
                              "WACC_SECRET_KEY": encode_key(new_key())})
    plugins = PluginManager(["none"], BUILTIN_PLUGINS)
    jobs = Runtime.build(settings, load_keyring(settings), plugins).jobs
    scheduler = build_scheduler(plugins, jobs)
    entries = {job.name: job for job in scheduler.get_jobs()}
    assert {"auth.prune_tokens", "system.prune_heartbeats"} <= set(entries)
    assert str(entries["system.prune_heartbeats"].trigger) == str(
        CronTrigger.from_crontab("17 3 * * *", timezone="UTC"))
    entries["auth.prune_tokens"].func(*entries["auth.prune_tokens"].args)
    [queued] = [jobs.huey.deserialize_task(raw) for raw in jobs.huey.storage.enqueued_items()]
    assert queued.name == "auth.prune_tokens"


async def test_two_wa_processes_share_sessions_and_take_over(deployment: Deployment,
                                                            tmp_path: Path) -> None:
    """Two `wa` processes on one machine: each session runs in exactly one; when that
    process dies (SIGKILL: no goodbye), the other takes the session over."""
    env = {**deployment.env, "WACC_WA_LEASE_SECONDS": "3"}
    api = f"{deployment.url}/api/v1"
    second_log = tmp_path / "wa2.log"
    with running(env, deployment.log) as supervisor, contextlib.ExitStack() as stack:
        # The second starts once the first made the data directory's key (embedded).
        await eventually(lambda: status(f"{deployment.url}/health/ready") == 200, 30,
                         "ready", deployment.log)
        second = stack.enter_context(running(env, second_log, "--role", "wa"))
        async with httpx.AsyncClient(base_url=api, timeout=30) as client:
            r = await client.post("/auth/register", json={
                "organizationName": "Two WA", "name": "Olga", "email": "olga@example.com",
                "password": "correct horse battery"})
            head = {"Authorization": f"Bearer {r.json()['accessToken']}"}
            sids = []
            for name in ("one", "two", "three", "four"):
                r = await client.post("/whatsapp/sessions", headers=head, json={"name": name})
                sids.append(r.json()["id"])

            async def all_leased() -> bool:
                rows = await query(deployment.database_url,
                                   "SELECT session, node_id FROM session_lease")
                return len(rows) == len(sids) and rows

            rows = await eventually(all_leased, 30, "every session leased", deployment.log)
            holders = {node for _, node in rows}
            assert len(rows) == len({s for s, _ in rows})  # exactly one holder per session
            first_wa = role_pids(supervisor.pid)["wa"]
            owned_by_first = {s for s, node in rows if f":{first_wa}:" in node}
            moved = owned_by_first or {s for s, node in rows if f":{second.pid}:" in node}
            victim = first_wa if owned_by_first else second.pid
            if not owned_by_first:
                # The second process holds them all: kill it; the supervisor's wa takes over.
                second.kill()
            else:
                os.kill(victim, signal.SIGKILL)

            async def taken_over() -> bool:
                rows = await query(deployment.database_url,
                                   "SELECT session, node_id FROM session_lease")
                now = {s: node for s, node in rows}
                # The survivor, or the wa the supervisor restarts after a SIGKILL: whichever
                # polls first after the lease runs out. Never the dead process.
                return all(s in now and f":{victim}:" not in now[s] for s in moved)

            await eventually(taken_over, 30, "the sessions to be taken over", deployment.log)
            assert holders  # (for the failure message) who held what before

            async def serving(sid: str) -> bool:
                # Answered over the session RPC, i.e. by the process now holding the lease.
                r = await client.get(f"/whatsapp/sessions/{sid}/simulator/outbox",
                                     headers=head)
                return r.status_code == 200

            for sid in moved:  # the survivor runs them
                await eventually(lambda sid=sid: serving(sid), 30, "session restarted",
                                 deployment.log)


async def test_a_person_at_a_terminal_gets_a_summary_not_log_noise(tmp_path: Path) -> None:
    """On a terminal `wacc run` says what starts, where, the URL once it answers and what
    to do next, in a few lines: no JSON, no libraries' INFO lines (issue 16)."""
    import pty

    port = free_port()
    env = wacc_env(tmp_path / "data", WACC_HTTP_PORT=str(port), **TIMING)
    env.pop("WACC_LOG_FORMAT")  # auto: what a person gets
    primary, secondary = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "wacc.cli.main", "run"], env=env,
                               stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary)
    os.close(secondary)
    out = b""
    try:
        deadline = time.monotonic() + 120
        while b"Ctrl+C stops wacc." not in out and time.monotonic() < deadline:
            try:
                chunk = await asyncio.to_thread(os.read, primary, 4096)
            except OSError:  # the process closed the terminal: it exited
                break
            out += chunk
        text = out.decode(errors="replace").replace("\r", "")
        assert "Ctrl+C stops wacc." in text, text
        lines = [line for line in text.splitlines() if line.strip()]
        assert lines[0].startswith("wacc ") and f"ready           http://127.0.0.1:{port}" in text
        assert "open it in a browser to create the owner account" in text  # the first run
        assert "master key: created" in text
        assert not [line for line in lines if line.lstrip().startswith("{")], text  # no JSON
        for noise in ("Huey consumer", "Added job", "Running Sqlite", "Uvicorn running"):
            assert noise not in text, text
        assert len(lines) <= 12, text
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, STOP_SECONDS + 5) == 0
        os.close(primary)
