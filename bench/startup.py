"""Time to healthy: `wacc run` (all four roles, embedded) until /health and /health/ready
answer 200, beside the floor of starting Python at all and of importing the web app.

    python bench/startup.py [--runs 3] [--load 0]

``--load N`` runs N busy loops beside it (a machine that is doing other work: the budget
is < 3 s idle and < 8 s busy). Prints medians with min-max; a first start (empty data
directory: makes the key, migrates from nothing) and a restart are timed apart.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Server


def _spin() -> None:
    while True:
        pass


def python_floor(code: str, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", code], check=True)
        out.append(time.monotonic() - started)
    return out


async def one_start(data: Path) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WACC_")}
    env |= {"WACC_DATA_DIR": str(data), "WACC_LOG_FORMAT": "json"}
    server = Server(env, data.parent / "wacc.log")
    started = time.monotonic()
    server.spawn()
    health = ready = 0.0
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=2) as client:
            while time.monotonic() - started < 120:
                try:
                    if not health and (await client.get("/health")).status_code == 200:
                        health = time.monotonic() - started
                    if health and (await client.get("/health/ready")).status_code == 200:
                        ready = time.monotonic() - started
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
    finally:
        server.stop()
    if not ready:
        raise RuntimeError(f"wacc run was not ready in 120 s; see {server.log}")
    return health, ready


def show(name: str, values: list[float]) -> str:
    return (f"| {name} | {statistics.median(values):.2f} s | "
            f"{min(values):.2f}-{max(values):.2f} s |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--load", type=int, default=0, help="busy loops running beside it")
    args = parser.parse_args()
    burners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.load)]
    for b in burners:
        b.start()
    try:
        floor = python_floor("pass", args.runs)
        imports = python_floor("import wacc.app", args.runs)
        first: list[tuple[float, float]] = []
        again: list[tuple[float, float]] = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                data = Path(tmp) / "data"
                first.append(await one_start(data))
                again.append(await one_start(data))
    finally:
        for b in burners:
            b.terminate()
    print(f"load: {args.load} busy loop(s) on {os.cpu_count()} CPUs; {args.runs} runs; "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| what | median | min-max |\n|---|---|---|")
    print(show("`python -c pass` (baseline)", floor))
    print(show("`python -c 'import wacc.app'`", imports))
    print(show("first start: /health 200", [h for h, _ in first]))
    print(show("first start: /health/ready 200", [r for _, r in first]))
    print(show("restart: /health 200", [h for h, _ in again]))
    print(show("restart: /health/ready 200", [r for _, r in again]))


if __name__ == "__main__":
    asyncio.run(main())
