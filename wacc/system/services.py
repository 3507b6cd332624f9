"""Role heartbeats and the readiness checks behind /health/ready."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Any

from wacc.db.engine import bound_engine, ping
from wacc.lib.clock import utcnow
from wacc.system.tables import RoleHeartbeat


def process_id() -> str:
    """This process as its heartbeat names it: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def live_processes(role: str, heartbeat_seconds: float) -> set[str]:
    """The processes of *role* that beat within three heartbeats (as ``process_id``)."""
    rows = await RoleHeartbeat.select(RoleHeartbeat.host, RoleHeartbeat.pid).where(
        (RoleHeartbeat.role == role)
        & (RoleHeartbeat.seen_at > utcnow() - timedelta(seconds=3 * heartbeat_seconds)))
    return {f"{r['host']}:{r['pid']}" for r in rows}


def heartbeat_id(role: str) -> str:
    return f"{role}:{socket.gethostname()}:{os.getpid()}"


async def beat(role: str) -> None:
    """Record that this process (of *role*) is alive; insert on the first beat."""
    now = utcnow()
    hid = heartbeat_id(role)
    updated = await RoleHeartbeat.update({RoleHeartbeat.seen_at: now}).where(
        RoleHeartbeat.id == hid
    ).returning(RoleHeartbeat.id)
    if not updated:
        await RoleHeartbeat.insert(
            RoleHeartbeat(id=hid, role=role, host=socket.gethostname(), pid=os.getpid(),
                          started_at=now, seen_at=now)
        )


async def stop_beating(role: str) -> None:
    await RoleHeartbeat.delete().where(RoleHeartbeat.id == heartbeat_id(role))


async def alive(role: str, within_seconds: float) -> list[dict[str, Any]]:
    since = utcnow() - timedelta(seconds=within_seconds)
    return await RoleHeartbeat.select().where(
        (RoleHeartbeat.role == role) & (RoleHeartbeat.seen_at > since)
    )


async def prune_heartbeats(older_than_seconds: float) -> int:
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    gone = await RoleHeartbeat.delete().where(RoleHeartbeat.seen_at < cutoff).returning(
        RoleHeartbeat.id
    )
    return len(gone)


async def check_database() -> str | None:
    """None when the database answers, else why not."""
    try:
        await ping(bound_engine())
    except Exception as exc:
        return f"{type(exc).__name__}"
    return None


async def check_redis(url: str) -> str | None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        return f"{type(exc).__name__}"
    finally:
        await client.aclose()
    return None
