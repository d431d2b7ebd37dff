"""A Teams pacing turn against a real database (services/store/pacing.py): it tells every post the
same turn as the whole log and queue would (services.pacing.turns over all the hour's sends and
the queue in order), and what it reads does not grow with the conversation's traffic, since it
holds the conversation's lock (SQLite's one writer) while it runs."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.pacing import TEAMS_PER_CONVERSATION, Limit, longest, parse_limits, turns
from services.store.db import session_factory
from services.store.pacing import GRACE
from services.store.tables import TeamsPacingRow
from services.store.uow import UnitOfWork
from tests.integration.test_scrape_reads import sent_by

TEAMS = parse_limits(TEAMS_PER_CONVERSATION)
CHANNEL = "19:storm@thread.tacv2"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def sends(times: list[datetime]) -> list[dict[str, Any]]:
    return [dict(conversation_id=CHANNEL, effect_id=None, rank=1, sent=True, at=at) for at in times]


def waiting(effects: range, rank: int, at: datetime = NOW) -> list[dict[str, Any]]:
    return [dict(conversation_id=CHANNEL, effect_id=effect, rank=rank, sent=False, at=at) for effect in effects]


async def as_the_whole_log_says(engine: AsyncEngine, effect_id: int, rank: int, now: datetime,
                                limits: tuple[Limit, ...], wait: bool) -> tuple[datetime, int]:
    """The turn services.pacing.turns gives from every send of the window and the whole queue,
    and the post's place in the queue."""
    row = TeamsPacingRow
    async with engine.connect() as connection:
        rows = (await connection.execute(select(row.id, row.effect_id, row.rank, row.sent, row.at)
                                         .where(row.conversation_id == CHANNEL))).all()
    made = sorted(row.at for row in rows if row.sent and row.at > now - longest(limits))
    queue = sorted((row for row in rows if not row.sent and row.at >= now - GRACE), key=lambda r: (r.rank, r.id))
    mine = next((row for row in queue if row.effect_id == effect_id), None)
    # a newcomer's row is the newest: after every row of its rank
    place = queue.index(mine) + 1 if mine else sum(row.rank <= rank for row in queue) + 1
    return turns(made, place, now, limits)[-1] if wait else now, place


async def sends_in_30_s(engine: AsyncEngine, now: datetime) -> int:
    row = TeamsPacingRow
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).where(
            row.conversation_id == CHANNEL, row.sent.is_(True), row.at > now - timedelta(seconds=30))) or 0)


def storm_moment(rng: random.Random, now: datetime, told: dict[int, datetime],
                 effects: Iterator[int]) -> tuple[datetime, list[tuple[int, int, bool]]]:
    """The next moment of a storm and who asks for a turn then (effect, rank, wait), in order."""
    roll, ahead = rng.random(), [at for at in told.values() if at > now]
    if ahead and roll < 0.4:  # those told the next turn come back then, or a little early
        first = min(ahead)
        now = max(now, first - timedelta(milliseconds=rng.choice((0, 0, 10, 30, 49))))
        return now, [(effect, 1, True) for effect, at in told.items() if at == first]
    now += rng.choice((timedelta(0), timedelta(milliseconds=rng.randint(1, 400)),
                       timedelta(seconds=rng.uniform(1, 20)), timedelta(seconds=rng.uniform(50, 90))))
    if roll < 0.65 or not told:
        return now, [(next(effects), rng.choice((0, 1)), True) for _ in range(rng.choice((1, 1, 5, 25)))]
    if roll < 0.72:
        return now, [(rng.choice(list(told)), 1, False)]  # a second send of one delivery
    return now, [(effect, rng.choice((0, 1)), True)  # back early, late, or long after (place given up)
                 for effect in rng.sample(list(told), min(len(told), rng.randint(1, 8)))]


async def test_every_turn_is_the_one_the_whole_log_and_queue_give(engine: AsyncEngine) -> None:
    """Random storms into one channel: bursts of new posts (places in the queue past 25), posts
    coming back at their turn, a little or much earlier, or too late (their place given up), second
    sends that do not wait, a history of the hour near Teams' 1,800 and a window of 30 s holding
    more than 60 sends (another replica's clock, say); under Teams' limits and under tighter ones."""
    rng = random.Random(18)
    sessions = session_factory(engine)
    history = sorted([NOW - timedelta(seconds=rng.uniform(31, 3599)) for _ in range(1_700)]
                     + [NOW - timedelta(seconds=rng.uniform(0, 29)) for _ in range(80)])
    async with engine.begin() as connection:
        await connection.execute(insert(TeamsPacingRow), sends(history))
    asked, places, busiest = 0, set(), 0
    for limits in (TEAMS, parse_limits("2/PT1S,3/PT3S,9/PT20S")):
        told: dict[int, datetime] = {}
        now, effects = NOW, iter(range(1_000 * len(limits), 10_000))
        for _ in range(70):
            now, burst = storm_moment(rng, now, told, effects)
            for effect, rank, wait in burst:
                expected, place = await as_the_whole_log_says(engine, effect, rank, now, limits, wait)
                async with UnitOfWork(sessions) as uow:
                    turn = await uow.teams_pacing.turn(CHANNEL, effect, rank, now, limits, wait=wait)
                    await uow.commit()
                assert turn == expected, (asked, effect, now)
                asked, busiest = asked + 1, max(busiest, await sends_in_30_s(engine, now))
                places.add(place)
                if turn > now:
                    told[effect] = turn
                else:
                    told.pop(effect, None)
    assert asked > 300 and busiest > 60 and max(places) > 25


async def reads_of_a_turn(engine: AsyncEngine, effect_id: int, rank: int) -> tuple[int, int]:
    """How many statements one turn sends and how many rows its reads return (each SELECT run
    again with its parameters, against what the turn saw: the turn is rolled back)."""
    with sent_by(engine) as sent:
        async with UnitOfWork(session_factory(engine)) as uow:
            await uow.teams_pacing.turn(CHANNEL, effect_id, rank, NOW, TEAMS)
    selects = [(statement, parameters) for statement, parameters in sent
               if statement.lstrip().upper().startswith(("SELECT", "WITH"))]
    rows = 0
    async with engine.connect() as connection:
        raw: Any = (await connection.get_raw_connection()).driver_connection
        for statement, parameters in selects:
            if engine.dialect.name == "postgresql":
                rows += len(await raw.fetch(statement, *parameters))
            else:
                rows += len(await (await raw.execute(statement, parameters)).fetchall())
    return len(sent), rows


async def test_a_turn_reads_as_much_with_1000_sends_and_200_waiting_as_with_10_and_12(engine: AsyncEngine) -> None:
    """The same last 10 sends and the same 11 root cards queued, in a quiet conversation and in one
    that also sent 990 more in the hour and has 189 notes queued behind the root cards: a returning
    root card (5th in the queue) and a new one (12th) read the same rows in the same statements."""
    recent = [NOW - timedelta(milliseconds=300 * i) for i in range(10)]
    earlier = [NOW - timedelta(seconds=40) - timedelta(seconds=3.5 * i) for i in range(990)]
    await reads_of_a_turn(engine, 1, 0)  # the process's first turn also clears quiet conversations
    measured = []
    for made, notes in ((recent, range(0)), (recent + earlier, range(100, 289))):
        async with engine.begin() as connection:
            await connection.execute(delete(TeamsPacingRow))
            await connection.execute(insert(TeamsPacingRow), sends(made) + waiting(range(1, 12), 0)
                                     + waiting(notes, 1))
        measured.append((await reads_of_a_turn(engine, 5, 0), await reads_of_a_turn(engine, 99, 0)))
    quiet, busy = measured
    assert busy == quiet
    (_, returning_rows), (_, new_rows) = busy
    assert returning_rows <= 1 + 1 + sum(min(5, limit.most) for limit in TEAMS)
    assert new_rows <= 2 + sum(min(12, limit.most) for limit in TEAMS)
