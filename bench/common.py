"""Shared pieces of the benchmarks: server processes, latency statistics, result files."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import IO, Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
POSTGRES_ADMIN = os.environ.get("BEACON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_url(database: str) -> str:
    """The SQLAlchemy URL of `database` on the server of POSTGRES_ADMIN."""
    return f"{POSTGRES_ADMIN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+asyncpg://', 1)}/{database}"


async def postgres_admin(statements: list[str]) -> None:
    """Run CREATE/DROP DATABASE statements on the server of POSTGRES_ADMIN."""
    if not statements:
        return
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _database(kind: str, tmp: str, name: str) -> tuple[str, list[str], list[str]]:
    """The URL for `kind` (sqlite, postgresql or a URL), and the statements that make and drop it."""
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp}/{name}.db", [], []
    if kind != "postgresql":
        return kind, [], []
    database = f"bench_{uuid.uuid4().hex[:10]}_{name}"
    return (postgres_url(database), [f'CREATE DATABASE "{database}"'],
            [f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'])


@asynccontextmanager
async def fresh_database(kind: str, tmp: str, name: str) -> AsyncIterator[str]:
    """A SQLite file in `tmp`, a fresh PostgreSQL database (dropped after), or the URL given."""
    url, make, drop = _database(kind, tmp, name)
    await postgres_admin(make)
    try:
        yield url
    finally:
        await postgres_admin(drop)


@contextmanager
def fresh_database_outside_a_loop(kind: str, tmp: str, name: str) -> Iterator[str]:
    """fresh_database for code that is not in a running loop (it starts servers with `server`)."""
    url, make, drop = _database(kind, tmp, name)
    asyncio.run(postgres_admin(make))
    try:
        yield url
    finally:
        asyncio.run(postgres_admin(drop))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_LOGS: dict[int, IO[bytes]] = {}  # a server process's pid → the file its stderr goes to


def start_server(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a server process whose stderr goes to a file of its own, read only if it fails: a
    pipe nobody reads fills up (64 KiB on Linux) and then blocks the server's next log line, which
    would stall the very process a benchmark measures."""
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    _LOGS[process.pid] = log
    return process


def log_tail(process: subprocess.Popen[bytes], most: int = 2000) -> str:
    """The end of what the server wrote to stderr."""
    log = _LOGS.get(process.pid)
    if log is None:
        return ""
    log.seek(0)
    return log.read().decode(errors="replace")[-most:]


@contextmanager
def server(which: str, database: str = "") -> Iterator[str]:
    """Start `python -m bench.serve <which>` and yield its URL once /healthz answers."""
    port = free_port()
    command = [sys.executable, "-m", "bench.serve", which, "--port", str(port)]
    if database:
        command += ["--database", database]
    process = start_server(command, {**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(wait_healthy(url, process))
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


async def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> float:
    start = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() - start < timeout:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log_tail(process)}")
            try:
                async with session.get(url + "/healthz") as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.02)
    raise RuntimeError(f"{url} did not become healthy in {timeout} s")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def latency_summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    return {"requests": len(latencies), "throughput_rps": len(latencies) / elapsed if elapsed else 0.0,
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
            "mean_ms": (statistics.fmean(latencies) * 1000) if latencies else float("nan")}


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    return path


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows)


def latency_table(summary: dict[str, dict[str, Any]], names: Sequence[str]) -> str:
    """The requests / req/s / p50 / p99 / errors table every load benchmark prints."""
    rows = [("", "requests", "req/s", "p50 ms", "p99 ms", "errors")]
    for name in names:
        s = summary[name]
        rows.append((name, str(s["requests"]), f"{s['throughput_rps']:.1f}", f"{s['p50_ms']:.1f}",
                     f"{s['p99_ms']:.1f}", str(s["errors"])))
    return table(rows)


async def read_back(base: str, path: str) -> dict[str, Any]:
    """What a fake served by bench.serve recorded (its GET route at `path`, e.g. BENCH_POSTS)."""
    async with aiohttp.ClientSession() as session, session.get(base + path) as response:
        response.raise_for_status()
        return dict(await response.json())
