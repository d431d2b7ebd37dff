"""A commit wakes the background worker that has something new to do, and only that one: a note
queued for Teams wakes the outbox worker, and a timer armed wakes the scheduler. A card click that
moves no timer used to make the scheduler read the timers too, once per commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.effects.teams import ThreadNote
from services.store.db import session_factory
from services.store.uow import UnitOfWork
from tests.integration.test_outbox import new_incident


async def test_a_commit_wakes_only_the_worker_with_new_work(engine):
    sessions = session_factory(engine)
    woken: list[str] = []
    incident = await new_incident(sessions)

    def unit() -> UnitOfWork:
        return UnitOfWork(sessions, on_outbox=lambda: woken.append("outbox"),
                          on_timers=lambda: woken.append("scheduler"))

    now = datetime.now(UTC)
    async with unit() as uow:
        await uow.outbox.add_many([ThreadNote(incident, "Ada noted: checking the database", "a note", "n1")],
                                  now=now)
        await uow.commit()
    assert woken == ["outbox"]

    woken.clear()
    async with unit() as uow:
        await uow.timers.arm(incident, "update", now + timedelta(hours=1))
        await uow.commit()
    assert woken == ["scheduler"]

    woken.clear()
    async with unit() as uow:  # rolled back: nothing to wake for
        await uow.outbox.add_many([ThreadNote(incident, "Ada noted: again", "a note", "n2")], now=now)
        await uow.timers.arm(incident, "update", now + timedelta(hours=2))
    assert woken == []
