"""One Teams pacing turn (services/store/pacing.py) in a busy conversation: how long it holds the
writer's turn (SQLite) or the conversation's advisory lock (PostgreSQL) as the conversation's
traffic grows.

    python -m bench.pacing_turn [--sends 10,200,1800] [--waiting 200] [--repeat 30] [--database sqlite]

The conversation holds `--sends` sends spread over the last hour (the newest a moment ago) and
`--waiting` posts queued for a turn. Timed: the turn of the post in the middle of the queue, and of
a new post joining its end, each in a unit of work rolled back, so every repeat sees the same rows
(medians). Both databases by default; PostgreSQL ones are made and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bench.common import postgres_admin, postgres_url, write_result
from services.pacing import TEAMS_PER_CONVERSATION, parse_limits
from services.store.db import create_engine, migrate, session_factory
from services.store.tables import TeamsPacingRow
from services.store.uow import UnitOfWork

LIMITS = parse_limits(TEAMS_PER_CONVERSATION)
CHANNEL = "19:storm@thread.tacv2"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


async def seed(url: str, sends: int, waiting: int) -> None:
    engine = create_engine(url)
    await migrate(engine)
    hour = 3_590_000_000  # microseconds: every send within the last hour
    rows = [dict(conversation_id=CHANNEL, effect_id=None, rank=1, sent=True,
                 at=NOW - timedelta(microseconds=hour - i * hour // sends) - timedelta(milliseconds=100))
            for i in range(sends)]
    rows += [dict(conversation_id=CHANNEL, effect_id=10_000 + i, rank=1, sent=False, at=NOW) for i in range(waiting)]
    rows += [dict(conversation_id="19:other@thread.tacv2", effect_id=None, rank=1, sent=True, at=NOW - timedelta(
        seconds=i)) for i in range(500)]
    async with engine.begin() as connection:
        await connection.execute(insert(TeamsPacingRow), rows)
    await engine.dispose()


async def time_turns(url: str, waiting: int, repeat: int) -> tuple[float, float]:
    """Median milliseconds of the turn of the middle of the queue, and of a newcomer."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    middle: list[float] = []
    newcomer: list[float] = []
    try:
        for i in range(repeat + 3):
            for effect_id, into in ((10_000 + waiting // 2, middle), (1, newcomer)):
                async with UnitOfWork(sessions) as uow:
                    started = time.perf_counter()
                    await uow.teams_pacing.turn(CHANNEL, effect_id, 1, NOW, LIMITS)
                    took = time.perf_counter() - started
                    # rolled back: every repeat sees the same rows
                if i >= 3:
                    into.append(took * 1000)
    finally:
        await engine.dispose()
    return statistics.median(middle), statistics.median(newcomer)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", default="10,200,1800")
    parser.add_argument("--waiting", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--name", default="pacing_turn")
    args = parser.parse_args()
    print(f"{'database':<11}{'sends':>7}{'waiting':>9}{'middle ms':>11}{'newcomer ms':>13}")
    result = []
    for backend in args.database or ("sqlite", "postgresql"):
        for sends in (int(s) for s in args.sends.split(",")):
            with tempfile.TemporaryDirectory() as tmp:
                if backend == "sqlite":
                    url = f"sqlite+aiosqlite:///{Path(tmp) / 'beacon.db'}"
                else:
                    name = f"beacon_bench_{uuid.uuid4().hex[:12]}"
                    await postgres_admin([f'CREATE DATABASE "{name}"'])
                    url = postgres_url(name)
                try:
                    await seed(url, sends, args.waiting)
                    middle, newcomer = await time_turns(url, args.waiting, args.repeat)
                finally:
                    if backend == "postgresql":
                        await postgres_admin([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])
            print(f"{backend:<11}{sends:>7}{args.waiting:>9}{middle:>11.2f}{newcomer:>13.2f}")
            result.append(dict(database=backend, sends=sends, waiting=args.waiting, middle_ms=middle,
                               newcomer_ms=newcomer))
    write_result(args.name, {"turns": result})


if __name__ == "__main__":
    asyncio.run(main())
