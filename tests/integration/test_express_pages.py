"""Pages skip the outbox's queue: written claimed by the process's outbox worker and delivered as
their transaction commits (services.store.outbox.ExpressLane), against a real database. What the
person on call would check: the phone rings although every delivery slot is busy with Teams posts,
exactly once although the process dies between the commit and the delivery, and a page to the same
person and method never overtakes one still to go out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.delivery import TransientDeliveryError
from services.outbox import Effect, OutboxWorker
from services.paging.effects import PageSms
from services.store.outbox import ExpressLane
from services.store.tables import OutboxRow
from services.store.uow import UnitOfWork
from tests.integration.test_outbox import enqueue, new_incident, sessions, worker  # noqa: F401 (a fixture)


def page(incident_id: int, level: int = 1) -> PageSms:
    return PageSms(incident_id, level, 1, "ada@example.com", "Ada Lovelace", f"INC-{incident_id} P1: down",
                   f"page Ada (level {level})", phone="+447700900001")


async def queue_pages(sessions, lane: ExpressLane, *pages: PageSms) -> None:
    async with UnitOfWork(sessions, express=lane) as uow:
        await uow.outbox.add_many(list(pages), now=datetime.now(UTC))
        await uow.commit()


async def until(condition, what: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def rows(sessions) -> list[OutboxRow]:
    async with sessions() as session:
        return list(await session.scalars(select(OutboxRow).where(OutboxRow.kind == PageSms.kind)
                                          .order_by(OutboxRow.id)))


async def started(w: OutboxWorker) -> asyncio.Task[None]:
    running = asyncio.create_task(w.run())
    await until(lambda: w.express_lease() is not None, "the worker to run")
    return running


async def test_a_page_goes_out_as_it_commits_while_every_delivery_slot_is_busy(sessions):
    """Teams hangs on the incident's card (one slot, all there is): the page does not wait for it."""
    incident = await new_incident(sessions)
    release, posting = asyncio.Event(), asyncio.Event()
    sent: list[str] = []

    async def slow_post(effect: Effect) -> None:
        posting.set()
        await release.wait()
        sent.append("card")

    async def sms(effect: Effect) -> None:
        sent.append(effect.payload["phone"])

    w = worker(sessions, {"teams.post_card": slow_post, PageSms.kind: sms}, concurrency=1)
    running = await started(w)
    try:
        await enqueue(sessions, "teams.post_card", "card", incident_id=incident)
        w.wake()
        await until(posting.is_set, "the card's delivery to start")
        await queue_pages(sessions, ExpressLane(w), page(incident))
        await until(lambda: sent, "the page")
        assert sent == ["+447700900001"]  # the card is still hanging
        [row] = await rows(sessions)
        assert row.attempts == 1
    finally:
        release.set()
        w.stop()
        await running
    assert sent == ["+447700900001", "card"]
    assert [r.status for r in await rows(sessions)] == ["sent"]


async def test_a_page_whose_process_stopped_before_delivering_it_goes_out_once_when_its_claim_lapses(sessions):
    incident = await new_incident(sessions)
    sent: list[str] = []

    async def sms(effect: Effect) -> None:
        sent.append(effect.key)

    lease = timedelta(seconds=0.6)
    first = worker(sessions, {PageSms.kind: sms}, lease=lease)
    running = await started(first)
    async with UnitOfWork(sessions, express=ExpressLane(first)) as uow:
        await uow.outbox.add_many([page(incident)], now=datetime.now(UTC))
        first.stop()  # the process goes away between writing the page and its commit's hand-over
        await running
        await uow.commit()
    [row] = await rows(sessions)
    assert (row.status, sent) == ("sending", [])  # claimed by the process that is gone
    second = worker(sessions, {PageSms.kind: sms}, lease=lease)
    running = await started(second)
    try:
        await until(lambda: sent, "the lapsed page to be claimed and sent")
        await asyncio.sleep(0.3)
    finally:
        second.stop()
        await running
    assert sent == [page(incident).idempotency_key]
    [row] = await rows(sessions)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_page_never_overtakes_an_unfinished_page_to_the_same_person_by_the_same_method(sessions):
    incident = await new_incident(sessions)
    sent: list[int] = []
    failed_once = asyncio.Event()

    async def sms(effect: Effect) -> None:
        if effect.payload["level"] == 1 and not failed_once.is_set():
            failed_once.set()
            raise TransientDeliveryError("Twilio answered 503", retry_after=0.3)
        sent.append(int(effect.payload["level"]))

    w = worker(sessions, {PageSms.kind: sms})
    running = await started(w)
    lane = ExpressLane(w)
    try:
        await queue_pages(sessions, lane, page(incident, level=1))
        await until(failed_once.is_set, "the first page's failed attempt")
        await queue_pages(sessions, lane, page(incident, level=2))  # while level 1 waits for its retry
        statuses = [r.status for r in await rows(sessions)]
        assert statuses[1] == "pending"  # queued behind level 1, not claimed
        await until(lambda: len(sent) == 2, "both pages")
    finally:
        w.stop()
        await running
    assert sent == [1, 2]


async def test_without_a_running_worker_a_page_is_queued_as_any_effect(sessions):
    """Tools and tests that drain by hand: nothing is left claimed by a worker that is not there."""
    incident = await new_incident(sessions)
    w = worker(sessions, {})
    await queue_pages(sessions, ExpressLane(w), page(incident))
    await queue_pages(sessions, ExpressLane(), page(incident, level=2))
    assert [(r.status, r.attempts) for r in await rows(sessions)] == [("pending", 0), ("pending", 0)]


async def test_a_page_queued_twice_is_written_and_delivered_once(sessions):
    incident = await new_incident(sessions)
    sent: list[str] = []

    async def sms(effect: Effect) -> None:
        sent.append(effect.key)

    w = worker(sessions, {PageSms.kind: sms})
    running = await started(w)
    try:
        await queue_pages(sessions, ExpressLane(w), page(incident))
        await queue_pages(sessions, ExpressLane(w), page(incident))  # a retried transaction, a replayed timer
        await until(lambda: sent, "the page")
        await asyncio.sleep(0.2)
    finally:
        w.stop()
        await running
    assert len(sent) == 1 and len(await rows(sessions)) == 1
