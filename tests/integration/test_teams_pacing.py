"""Turns per Teams conversation against a real database: replicas share them (services/store/pacing.py).

Three replicas (three engines, each with its own connections, on one PostgreSQL; one on SQLite,
which serves one process) ask for turns in one channel for 75 sends at the same moments. What
Teams would check: no window ever holds more sends than its limit, and the sends still went as
soon as the limits allowed.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select

from services.clock import FakeClock
from services.pacing import TEAMS_PER_CONVERSATION, parse_limits
from services.store.db import create_engine, migrate, session_factory
from services.store.dialect import is_postgresql
from services.store.tables import TeamsPacingRow
from services.store.uow import UnitOfWork

LIMITS = parse_limits(TEAMS_PER_CONVERSATION)
CHANNEL = "19:ops@thread.tacv2"
SENDS = 75


def most_in_a_window(times: list[datetime], per: timedelta) -> int:
    return max(sum(start - per < t <= start for t in times) for start in times)


async def test_replicas_share_the_turns_of_a_conversation(database_url: str) -> None:
    first = create_engine(database_url)
    await migrate(first)
    engines = [first, *(create_engine(database_url) for _ in range(2 if is_postgresql(first) else 0))]
    replicas = [session_factory(engine) for engine in engines]
    clock = FakeClock()
    replica_of = {effect_id: replicas[effect_id % len(replicas)] for effect_id in range(1, SENDS + 1)}
    back_at = dict.fromkeys(replica_of, clock.now())  # as the outbox does: asked again at the turn told
    sent: list[datetime] = []
    try:
        while back_at:
            now = clock.now()

            async def ask(effect_id: int) -> None:
                async with UnitOfWork(replica_of[effect_id]) as uow:
                    turn = await uow.teams_pacing.turn(CHANNEL, effect_id, 1, now, LIMITS)
                    await uow.commit()
                if turn <= now:
                    sent.append(now)
                    del back_at[effect_id]
                else:
                    back_at[effect_id] = turn

            await asyncio.gather(*(ask(effect_id) for effect_id, at in list(back_at.items()) if at <= now))
            if back_at:
                clock.advance(max(timedelta(0), min(back_at.values()) - now))
    finally:
        for engine in engines:
            await engine.dispose()

    for limit in LIMITS:
        assert most_in_a_window(sent, limit.per) <= limit.most, limit
    took = sent[-1] - sent[0]
    assert timedelta(seconds=30) < took < timedelta(seconds=36)  # 60, then the rest once the first are 30 s old


async def test_a_conversation_that_fell_quiet_leaves_no_rows_behind(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate(engine)
    sessions = session_factory(engine)
    clock = FakeClock()
    try:
        async def ask(conversation: str, effect_id: int) -> datetime:
            async with UnitOfWork(sessions) as uow:
                turn = await uow.teams_pacing.turn(conversation, effect_id, 1, clock.now(), LIMITS)
                await uow.commit()
            return turn

        for effect_id in range(10):  # 7 sent, 3 told to wait, then never back (skipped, say)
            await ask("19:resolved@thread.tacv2", effect_id)
        clock.advance(timedelta(hours=1, minutes=5))
        await ask(CHANNEL, 99)  # another conversation, an hour later
        async with sessions() as session:
            left = list(await session.scalars(select(TeamsPacingRow.conversation_id)))
        assert left == [CHANNEL]
    finally:
        await engine.dispose()
