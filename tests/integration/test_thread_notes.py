"""Notes queued behind one another in an incident's thread join the reply whose turn came, on both
databases: up to MOST_NOTES of them and LONGEST characters in all, oldest first; the others wait
for the next reply."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from services.comms.thread_notes import LONGEST, MOST_NOTES, notes_together
from services.effects.teams import ThreadNote
from services.outbox import Effect
from services.store.db import session_factory
from services.store.tables import OutboxRow
from services.store.uow import UnitOfWork

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


async def queue(engine, texts: list[str], incident_id: int = 7) -> list[int]:  # type: ignore[no-untyped-def]
    async with UnitOfWork(session_factory(engine)) as uow:
        for n, text in enumerate(texts):
            await uow.outbox.add(ThreadNote(incident_id, text, f"INC-{incident_id} thread note", f"note:v{n}"),
                                 now=NOW)
        await uow.commit()
    async with session_factory(engine)() as session:
        return list(await session.scalars(select(OutboxRow.id).where(OutboxRow.incident_id == incident_id)
                                          .order_by(OutboxRow.id)))


async def deliver_first(engine, first: int) -> str:  # type: ignore[no-untyped-def]
    async with session_factory(engine)() as session:
        row = await session.get(OutboxRow, first)
    effect = Effect(row.id, row.kind, row.payload, row.incident_id, 1, row.idempotency_key, row.created_at)
    async with UnitOfWork(session_factory(engine)) as uow:
        text = await notes_together(uow, effect, NOW)
        await uow.commit()
    return text


async def statuses(engine) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    async with session_factory(engine)() as session:
        rows = await session.scalars(select(OutboxRow).order_by(OutboxRow.id))
        return [(r.status, r.payload["text"]) for r in rows]


async def test_at_most_the_cap_of_notes_join_and_a_retry_sends_the_same_text(engine):
    texts = [f"Alice noted: shard {n}" for n in range(MOST_NOTES + 5)]
    ids = await queue(engine, texts)
    await queue(engine, ["Bob noted: another incident"], incident_id=8)  # its own thread: left alone
    text = await deliver_first(engine, ids[0])
    assert text.splitlines() == texts[:MOST_NOTES + 1]
    rows = await statuses(engine)
    assert [status for status, _ in rows] == ["pending"] + ["skipped"] * MOST_NOTES + ["pending"] * 5
    assert rows[0][1] == text  # what a retry of the first reply would send
    # The next reply, from the first note left waiting, carries the last four behind it.
    assert (await deliver_first(engine, ids[MOST_NOTES + 1])).splitlines() == texts[MOST_NOTES + 1:]


async def test_notes_join_only_while_the_reply_stays_under_the_longest_text(engine):
    long = "x" * (LONGEST // 3)
    texts = [f"Alice noted: {long}", f"Bob noted: {long}", f"Carol noted: {long}", "Dan noted: short"]
    ids = await queue(engine, texts)
    text = await deliver_first(engine, ids[0])
    assert text.splitlines() == texts[:2] and len(text) <= LONGEST
    assert [status for status, _ in await statuses(engine)] == ["pending", "skipped", "pending", "pending"]


async def test_notes_outside_ascii_are_measured_as_they_travel(engine):
    """Two notes of 2,000 such characters: 4,000 characters together, but each takes six bytes on
    the wire (\\uXXXX), 24 KB in all, more than a reply may carry: the second waits for its own."""
    long = "確" * 2000
    ids = await queue(engine, [f"Alice noted: {long}", f"Bob noted: {long}"])
    assert len(f"Alice noted: {long}\nBob noted: {long}") < LONGEST < 2 * len(json.dumps(long))
    assert await deliver_first(engine, ids[0]) == f"Alice noted: {long}"
    assert [status for status, _ in await statuses(engine)] == ["pending", "pending"]
