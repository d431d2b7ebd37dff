"""The outbox against a real database: ordered, retried, bounded, recorded on the timeline."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import event, select, update

from services.clock import FakeClock, SystemClock
from services.delivery import NotConfigured, PermanentDeliveryError, TransientDeliveryError
from services.effects import Channel
from services.incidents import Incident, Level, Person
from services.effects.teams import ThreadNote, UpdateCard
from services.outbox import COVERED, Effect, OutboxPolicy, OutboxWorker
from services.store.db import create_engine, migrate, session_factory
from services.store.tables import OutboxRow
from services.store.uow import UnitOfWork
from tests.integration.helpers import statements

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
        await uow.incidents.add(incident, config_version="test")
        await uow.commit()
    assert incident.id
    return incident.id


async def enqueue(sessions, kind: str, key: str, incident_id: int | None = None, order: str | None = None):
    async with UnitOfWork(sessions) as uow:
        queued = await uow.outbox.add_row(kind, {"n": key}, key=key, now=datetime.now(UTC),
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
        timeline = await uow.timeline.of(incident_id)
    assert timeline[-1].kind == "delivery_failed" and "503" in timeline[-1].summary


async def test_a_teams_effect_retries_past_max_attempts_until_its_horizon_then_fails(sessions):
    """Teams outages last longer than a few attempts: a Teams effect keeps retrying until it is
    TEAMS_RETRY_HORIZON old, while another channel's effect gives up after max_attempts."""
    incident_id = await new_incident(sessions)
    calls: dict[str, int] = {"teams.thread_note": 0, "email.send": 0}

    async def handler(effect: Effect) -> None:
        calls[effect.kind] += 1
        raise TransientDeliveryError("503 from the connector", status=503)

    await enqueue(sessions, "teams.thread_note", "note-1", incident_id=incident_id)
    await enqueue(sessions, "email.send", "mail-1", incident_id=incident_id, order="mail")
    w = worker(sessions, {"teams.thread_note": handler, "email.send": handler}, max_backoff=0.05,
               horizons={Channel.TEAMS: timedelta(seconds=1)})
    started = time.monotonic()
    while (await statuses(sessions))["note-1"] != "failed":
        assert time.monotonic() - started < 10
        await w.run_once()
        await asyncio.sleep(0.02)
    assert time.monotonic() - started >= 1.0
    assert calls["email.send"] == 3 and calls["teams.thread_note"] > 3
    assert (await statuses(sessions)) == {"note-1": "failed", "mail-1": "failed"}


async def test_a_429_honours_retry_after_and_is_never_counted_as_an_attempt(sessions):
    throttled: list[float] = []

    async def handler(effect: Effect) -> None:
        if len(throttled) < 5:  # more 429s than max_attempts (3)
            throttled.append(time.monotonic())
            raise TransientDeliveryError("throttled", status=429, retry_after=0.2)

    await enqueue(sessions, "x", "t1")
    w = worker(sessions, {"x": handler}, base_backoff=5.0)  # Retry-After, not our own backoff, sets the pace
    for _ in range(200):
        await w.run_once()
        if (await statuses(sessions))["t1"] == "sent":
            break
        await asyncio.sleep(0.02)
    async with sessions() as session:
        row = await session.scalar(select(OutboxRow).where(OutboxRow.idempotency_key == "t1"))
    assert row is not None and (row.status, row.attempts) == ("sent", 1)
    gaps = [later - earlier for earlier, later in zip(throttled, throttled[1:], strict=False)]
    assert len(throttled) == 5 and all(0.19 <= gap < 2.0 for gap in gaps), gaps


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
        assert (await uow.timeline.of(incident_id))[-1].summary == "not sent: Freshdesk not configured"


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


async def test_a_slow_delivery_holds_back_only_itself(sessions):
    """One post hanging on a slow answer must not stop every other incident's posts."""
    release = asyncio.Event()
    delivered: list[str] = []

    async def handler(effect: Effect) -> None:
        if effect.key == "slow":
            await release.wait()
        delivered.append(effect.key)

    await enqueue(sessions, "x", "slow", order="incident:1")
    await enqueue(sessions, "x", "after-slow", order="incident:1")  # same thread: must wait its turn
    for i in range(30):
        await enqueue(sessions, "x", f"other-{i}", order=f"incident:{i + 2}")
    w = worker(sessions, {"x": handler}, batch=8, concurrency=8)
    running = asyncio.create_task(w.run())
    try:
        for _ in range(200):
            if len(delivered) == 30:
                break
            await asyncio.sleep(0.02)
        assert sorted(delivered) == sorted(f"other-{i}" for i in range(30))
        assert (await statuses(sessions))["slow"] == "sending"
        release.set()
        for _ in range(200):
            if len(delivered) == 32:
                break
            await asyncio.sleep(0.02)
        assert delivered[-2:] == ["slow", "after-slow"]
    finally:
        release.set()
        w.stop()
        await running
    assert set((await statuses(sessions)).values()) == {"sent"}


def is_claim(statement: str) -> bool:
    """A claim of pending rows (not of lapsed ones)."""
    return "due_ids" in statement and "next_attempt_at <=" in statement


async def test_rows_waiting_behind_a_retry_do_not_keep_the_worker_polling(sessions):
    attempts: list[float] = []

    async def handler(effect: Effect) -> None:
        if effect.key == "a":
            attempts.append(asyncio.get_running_loop().time())
            raise TransientDeliveryError("429", retry_after=1.5)

    for key in "abc":
        await enqueue(sessions, "x", key, order="incident:1")
    claims = statements(sessions, is_claim)
    w = worker(sessions, {"x": handler}, idle_poll=0.5, base_backoff=1.5)
    running = asyncio.create_task(w.run())
    await asyncio.sleep(1.0)
    w.stop()
    await running
    # "b" and "c" are due but queued behind "a", which waits out its Retry-After: the worker
    # sleeps until then instead of claiming nothing in a tight loop.
    assert len(attempts) == 1
    assert len(claims) <= 5, f"{len(claims)} claims in 1 s while nothing could go out"


async def test_deliveries_that_end_together_are_recorded_together(sessions):
    for i in range(40):
        await enqueue(sessions, "x", f"e{i}")
    writes = statements(sessions, lambda s: s.lstrip().upper().startswith("UPDATE OUTBOX") and "due_ids" not in s)

    async def handler(effect: Effect) -> None:
        await asyncio.sleep(0.01)

    assert await worker(sessions, {"x": handler}, batch=40, concurrency=40).run_once() == 40
    assert set((await statuses(sessions)).values()) == {"sent"}
    assert len(writes) <= 4, f"40 deliveries took {len(writes)} record statements"


async def test_a_paced_kind_starts_no_faster_than_its_rate_and_others_are_not_held(sessions):
    started: dict[str, list[float]] = {"teams": [], "mail": []}

    async def handler(effect: Effect) -> None:
        started["teams" if effect.kind.startswith("teams.") else "mail"].append(asyncio.get_running_loop().time())

    for i in range(45):
        await enqueue(sessions, "teams.thread_note", f"t{i}")
    for i in range(5):
        await enqueue(sessions, "graph.mail", f"m{i}")
    w = worker(sessions, {"teams.thread_note": handler, "graph.mail": handler}, batch=100, concurrency=100,
               rate_limits={Channel.TEAMS: 20})
    begin = asyncio.get_running_loop().time()
    await w.run_once()
    teams = [t - begin for t in started["teams"]]
    assert len(teams) == 45 and len(started["mail"]) == 5
    # 20 a second: a burst of a tenth of a second's worth, then one every 1/20 s.
    assert sum(t < 1.0 for t in teams) <= 23
    assert max(teams) >= 1.0
    assert max(t - begin for t in started["mail"]) < 0.5  # mail went out at once, not behind Teams


async def test_a_row_whose_lease_lapses_mid_delivery_is_not_delivered_again_by_its_own_worker(sessions):
    """The clock jumps (or the loop stalls) past the lease while a post is in flight: the worker
    claims the row again, but must not start a second delivery of what it is still delivering."""
    release = asyncio.Event()
    calls: list[str] = []

    async def handler(effect: Effect) -> None:
        calls.append(effect.key)
        await release.wait()

    await enqueue(sessions, "x", "once")
    clock = FakeClock(datetime.now(UTC))
    w = OutboxWorker(sessions, {"x": handler}, clock, OutboxPolicy(idle_poll=0.05))
    running = asyncio.create_task(w.run())
    try:
        for _ in range(100):
            if calls:
                break
            await asyncio.sleep(0.02)
        clock.advance(timedelta(minutes=5))
        w.wake()
        await asyncio.sleep(0.3)
    finally:
        release.set()
        w.stop()
        await running
    assert calls == ["once"]
    assert (await statuses(sessions))["once"] == "sent"


async def test_a_wake_while_too_few_slots_are_free_does_not_spin_the_worker(sessions):
    """Every click's commit wakes the worker. With most slots busy (slow or paced posts), a wake
    must wait for a delivery to end, not return at once and go round again on the CPU."""
    release, all_slow_started, late_started = asyncio.Event(), asyncio.Event(), asyncio.Event()
    started: list[str] = []

    async def handler(effect: Effect) -> None:
        started.append(effect.key)
        if effect.key == "late":
            late_started.set()
            return
        if len(started) == 7:
            all_slow_started.set()
        await release.wait()

    for i in range(7):
        await enqueue(sessions, "x", f"slow-{i}", order=f"incident:{i}")
    w = worker(sessions, {"x": handler}, batch=8, concurrency=8, idle_poll=5.0)  # claims again at 2 free
    running = asyncio.create_task(w.run())
    try:
        await asyncio.wait_for(all_slow_started.wait(), 5)
        await enqueue(sessions, "x", "late", order="incident:99")
        w.wake()
        cpu = time.process_time()
        await asyncio.sleep(0.5)
        assert time.process_time() - cpu < 0.2, "the worker spun while one slot was free"
        assert "late" not in started
        release.set()  # slots free up: the late row goes out
        await asyncio.wait_for(late_started.wait(), 5)
    finally:
        release.set()
        w.stop()
        await running
    assert set((await statuses(sessions)).values()) == {"sent"}


async def test_an_earlier_effect_of_the_ordering_key_counts_only_while_it_is_still_to_go_out(sessions):
    for key in "ab":
        await enqueue(sessions, "x", key, order="incident:1")
    await enqueue(sessions, "x", "other", order="incident:2")
    async with sessions() as session:
        ids = {r.idempotency_key: r.id for r in await session.scalars(select(OutboxRow))}
    async with UnitOfWork(sessions) as uow:
        assert await uow.outbox.earlier_unfinished("incident:1", ids["b"])
        assert not await uow.outbox.earlier_unfinished("incident:1", ids["a"])
        assert not await uow.outbox.earlier_unfinished("incident:2", ids["other"])
    async with UnitOfWork(sessions) as uow:
        await uow.session.execute(update(OutboxRow).where(OutboxRow.idempotency_key == "a").values(status="sent"))
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert not await uow.outbox.earlier_unfinished("incident:1", ids["b"])


async def test_the_questions_about_earlier_unfinished_effects_read_the_partial_index_on_sqlite(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'beacon.db'}")
    await migrate(engine)
    sessions = session_factory(engine)
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "outbox" in statement:
            sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with UnitOfWork(sessions) as uow:
            await uow.outbox.earlier_unfinished("incident:1", 5)
        w = worker(sessions, {})
        await w.next_due()
        await w._claim(10)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert len(sent) == 4  # the check, next_due, and the two claims
    try:
        async with engine.connect() as connection:
            for statement, parameters in sent:
                plan = (await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)).all()
                details = [row[-1] for row in plan]
                assert any("ix_outbox_unfinished" in detail for detail in details), (statement, details)
    finally:
        await engine.dispose()


async def test_a_burst_of_commits_costs_the_worker_one_claim_not_one_each(sessions):
    delivered: list[str] = []

    async def handler(effect: Effect) -> None:
        await asyncio.sleep(0.5)  # Teams taking its time: the deliveries are still in flight below
        delivered.append(effect.key)

    w = worker(sessions, {"x": handler}, idle_poll=5.0, concurrency=40, wake_gather=0.1)
    running = asyncio.create_task(w.run())
    await asyncio.sleep(0.1)  # asleep, with nothing to do
    claims = statements(sessions, is_claim)

    async def commit(i: int) -> None:  # as a click does: its commit wakes the worker
        await enqueue(sessions, "x", f"c{i}")
        w.wake()

    await asyncio.gather(*(commit(i) for i in range(10)))  # ten commits at the same moment
    await asyncio.sleep(0.3)
    during = len(claims)
    await asyncio.sleep(0.6)
    w.stop()
    await running
    assert sorted(delivered) == sorted(f"c{i}" for i in range(10))
    assert during == 1, f"{during} claims for one burst of ten commits"


async def queue_in_thread(sessions, *effects) -> None:
    """Each effect queued by a transaction of its own, as clicks queue them."""
    for effect in effects:
        async with UnitOfWork(sessions) as uow:
            await uow.outbox.add(effect, now=datetime.now(UTC))
            await uow.commit()


def card_and_notes(delivered: list[str]) -> dict[str, Any]:
    async def redraw(effect: Effect) -> None:
        delivered.append("card")

    async def note(effect: Effect) -> None:
        delivered.append(effect.payload["text"])

    return {UpdateCard.kind: redraw, ThreadNote.kind: note}


async def test_a_claimed_card_redraw_stands_for_the_redraws_queued_behind_it(sessions):
    """Five clicks each queued a redraw and a note. The card shows the incident as it is when it
    goes out, so one redraw shows all five changes: the others are not sent, the notes all are."""
    incident_id = await new_incident(sessions)
    for n in range(1, 6):
        await queue_in_thread(sessions, UpdateCard(incident_id, "card update", f"card:v{n}"),
                              ThreadNote(incident_id, f"note {n}", "thread note", f"note:v{n}"))
    delivered: list[str] = []
    await worker(sessions, card_and_notes(delivered)).drain()
    assert delivered == ["card", "note 1", "note 2", "note 3", "note 4", "note 5"]
    async with sessions() as session:
        rows = {r.idempotency_key: r for r in await session.scalars(select(OutboxRow))}
    assert rows[f"incident:{incident_id}:card:v1"].status == "sent"
    for n in range(2, 6):
        row = rows[f"incident:{incident_id}:card:v{n}"]
        assert (row.status, row.last_error) == ("skipped", COVERED), n
        assert row.done_at is not None


async def test_a_redraw_queued_after_the_claim_still_goes_out(sessions):
    """A change committed after the redraw was claimed may miss its rendering: its own redraw is sent."""
    incident_id = await new_incident(sessions)
    delivered: list[str] = []
    handlers = card_and_notes(delivered)
    first = handlers[UpdateCard.kind]

    async def slow_redraw(effect: Effect) -> None:
        if not delivered:  # the first redraw is rendering when the next click commits
            await queue_in_thread(sessions, UpdateCard(incident_id, "card update", "card:v2"))
        await first(effect)

    handlers[UpdateCard.kind] = slow_redraw
    await queue_in_thread(sessions, UpdateCard(incident_id, "card update", "card:v1"))
    await worker(sessions, handlers).drain()
    assert delivered == ["card", "card"]


async def test_a_redraw_held_by_another_transaction_is_left_to_go_out_itself(sessions, database_url):
    """An alert intake locks the pending redraw it counts on to go out after its commit (PostgreSQL):
    the claim passes over it instead of waiting for that transaction, or skipping what it relies on."""
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's: SQLite's one writer keeps any other transaction out")
    incident_id = await new_incident(sessions)
    await queue_in_thread(sessions, UpdateCard(incident_id, "card update", "card:v1"),
                          UpdateCard(incident_id, "card update", "card:v2"),
                          UpdateCard(incident_id, "card update", "card:v3"))
    delivered: list[str] = []
    w = worker(sessions, card_and_notes(delivered))
    # Hold only v3, as an intake that found it waiting would, while the worker claims.
    async with sessions() as holder, holder.begin():
        await holder.execute(select(OutboxRow.id).where(OutboxRow.idempotency_key == f"incident:{incident_id}:card:v3")
                             .with_for_update())
        await asyncio.wait_for(w.run_once(), timeout=5)  # does not wait for the holder
        assert (await statuses(sessions))[f"incident:{incident_id}:card:v2"] == "skipped"
        assert (await statuses(sessions))[f"incident:{incident_id}:card:v3"] == "pending"
    await w.drain()
    assert delivered == ["card", "card"]
