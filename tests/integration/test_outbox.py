"""The outbox against a real database: ordered, retried, bounded, recorded on the timeline."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest_asyncio
from sqlalchemy import select

from services.clock import SystemClock
from services.delivery import NotConfigured, PermanentDeliveryError, TransientDeliveryError
from services.incidents import Incident, Level, Person
from services.outbox import Effect, OutboxPolicy, OutboxWorker
from services.store.db import create_engine, migrate, session_factory
from services.store.tables import OutboxRow
from services.store.uow import UnitOfWork

ALICE = Person("aad-alice", "Alice")


@pytest_asyncio.fixture
async def sessions(database_url):
    engine = create_engine(database_url)
    await migrate(engine)
    yield session_factory(engine)
    await engine.dispose()


async def new_incident(sessions) -> int:
    incident = Incident.declare(title="t", description="", impact=Level.LOW, urgency=Level.LOW,
                                priority="P5", service="", client="", declared_by=ALICE, commander=None,
                                source="chat", now=datetime.now(UTC))
    async with UnitOfWork(sessions) as uow:
        await uow.add_incident(incident, config_version="test")
        await uow.commit()
    assert incident.id
    return incident.id


async def enqueue(sessions, kind: str, key: str, incident_id: int | None = None, order: str | None = None):
    async with UnitOfWork(sessions) as uow:
        queued = await uow.enqueue(kind, {"n": key}, key=key, now=datetime.now(UTC),
                                   incident_id=incident_id, ordering_key=order)
        await uow.commit()
    return queued


def worker(sessions, handlers, **policy) -> OutboxWorker:
    values = {"base_backoff": 0.01, "max_attempts": 3, "idle_poll": 0.05, **policy}
    return OutboxWorker(sessions, handlers, SystemClock(), OutboxPolicy(**values))


async def statuses(sessions) -> dict[str, str]:
    async with sessions() as session:
        rows = await session.scalars(select(OutboxRow))
        return {r.idempotency_key: r.status for r in rows}


async def test_same_key_is_queued_once(sessions):
    assert await enqueue(sessions, "x", "k1")
    assert not await enqueue(sessions, "x", "k1")
    assert len(await statuses(sessions)) == 1


async def test_effects_of_one_ordering_key_go_out_in_order_even_after_a_retry(sessions):
    seen: list[str] = []
    failed_once: set[str] = set()

    async def handler(effect: Effect) -> None:
        if effect.payload["n"] == "a" and "a" not in failed_once:
            failed_once.add("a")
            raise TransientDeliveryError("429", retry_after=0.05)
        seen.append(effect.payload["n"])

    for key in "abc":
        await enqueue(sessions, "x", key, order="incident:1")
    w = worker(sessions, {"x": handler})
    for _ in range(50):
        await w.run_once()
        if len(seen) == 3:
            break
        await asyncio.sleep(0.02)
    assert seen == ["a", "b", "c"]
    assert set((await statuses(sessions)).values()) == {"sent"}


async def test_transient_failures_end_as_failed_after_bounded_attempts_and_show_on_the_timeline(sessions):
    incident_id = await new_incident(sessions)
    calls = 0

    async def handler(effect: Effect) -> None:
        nonlocal calls
        calls += 1
        raise TransientDeliveryError("503 from the connector")

    await enqueue(sessions, "teams.thread_note", "note-1", incident_id=incident_id)
    w = worker(sessions, {"teams.thread_note": handler})
    for _ in range(100):
        await w.run_once()
        if (await statuses(sessions))["note-1"] == "failed":
            break
        await asyncio.sleep(0.02)
    assert calls == 3
    assert (await statuses(sessions))["note-1"] == "failed"
    async with UnitOfWork(sessions) as uow:
        timeline = await uow.timeline(incident_id)
    assert timeline[-1].kind == "delivery_failed" and "503" in timeline[-1].summary


async def test_permanent_failure_is_not_retried(sessions):
    calls = 0

    async def handler(effect: Effect) -> None:
        nonlocal calls
        calls += 1
        raise PermanentDeliveryError("400 bad request")

    await enqueue(sessions, "x", "p1")
    w = worker(sessions, {"x": handler})
    await w.run_once()
    await w.run_once()
    assert calls == 1 and (await statuses(sessions))["p1"] == "failed"


async def test_unconfigured_system_is_recorded_as_not_sent(sessions):
    incident_id = await new_incident(sessions)

    async def handler(effect: Effect) -> None:
        raise NotConfigured("Freshdesk")

    await enqueue(sessions, "freshdesk.create", "fd-1", incident_id=incident_id)
    await worker(sessions, {"freshdesk.create": handler}).run_once()
    assert (await statuses(sessions))["fd-1"] == "skipped"
    async with UnitOfWork(sessions) as uow:
        assert (await uow.timeline(incident_id))[-1].summary == "not sent: Freshdesk not configured"


async def test_two_workers_never_deliver_the_same_effect_twice(sessions):
    delivered: list[str] = []

    async def handler(effect: Effect) -> None:
        await asyncio.sleep(0.005)
        delivered.append(effect.key)

    for i in range(40):
        await enqueue(sessions, "x", f"e{i}")
    a, b = worker(sessions, {"x": handler}, batch=5), worker(sessions, {"x": handler}, batch=5)
    await asyncio.gather(a.drain(), b.drain())
    assert sorted(delivered) == sorted(f"e{i}" for i in range(40))
