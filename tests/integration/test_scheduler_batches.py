"""The scheduler's batches on both databases, with a fake clock: a responder's change racing a
batch, two timers of one incident due at once, the short draft against the whole timeline, notes
too long for one update, and more timers due than one batch holds."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.clock import FakeClock
from services.comms import plan
from services.deps import Deps
from services.incidents import Person, TimelineEvent
from services.incidents.model import MAX_TEXT
from services.lifecycle import IncidentAction, act_on_incident
from services.scheduler.worker import Scheduler
from services.store.db import session_factory
from services.store.tables import OutboxRow, TimelineRow, TimerRow
from services.store.uow import UnitOfWork
from services.verbs import Verb
from tests.integration.helpers import ALICE, declare, payments_config

BOB = Person("aad-bob", "Bob", "29:bob")
# High impact: responders every hour. Otherwise responders and stakeholders both every two hours.
CONFIG = payments_config({"responder_update_high": "PT1H", "responder_update_other": "PT2H",
                          "stakeholder_update": "PT2H", "grace": "PT10M"})
GRACE = timedelta(minutes=10)
WRITES = {"INSERT", "UPDATE", "DELETE"}


@pytest.fixture
def deps(engine) -> Deps:
    sessions = session_factory(engine)
    return Deps(uow=lambda: UnitOfWork(sessions), config=CONFIG, clock=FakeClock())


class Batches:
    """The scheduler's batches as the database sees them: the size each claim asks for (its LIMIT),
    and how many timeline entries each batch records at once (a reminder is one, an automatic
    update two)."""

    def __init__(self, engine: AsyncEngine):
        self.sizes: list[int] = []
        self.recorded: list[int] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM timers" in statement and "LIMIT" in statement:
            self.sizes.append(next(p for p in parameters if isinstance(p, int)))  # (due, limit[, offset])
        elif statement.startswith("INSERT INTO timeline_events"):  # watched while only the scheduler writes
            self.recorded.append(len(parameters) if many else 1)

    def clear(self) -> None:
        self.sizes.clear()
        self.recorded.clear()


@pytest.fixture
def batches(engine) -> Batches:
    return Batches(engine)


@contextlib.asynccontextmanager
async def mid_batch(engine: AsyncEngine, respond: Callable[[], Awaitable[object]]) -> AsyncIterator[None]:
    """Let a responder act once the scheduler's next batch has read its incidents and their drafts
    and has written nothing yet. On SQLite the responder's change commits right there. On
    PostgreSQL the batch holds its timers' and incidents' row locks: the responder's locking read
    waits for the batch to commit, then reads the incident as the batch left it."""
    sqlite = engine.dialect.name == "sqlite"
    raced: list[str] = []
    responder_writes = asyncio.Event()
    responding: list[asyncio.Task[object]] = []

    async def interleave() -> None:
        if sqlite:
            await respond()
            return
        responding.append(asyncio.ensure_future(respond()))
        await responder_writes.wait()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "row_number()" in statement and not raced:  # the batch's draft query, its last read
            raced.append(statement)
            conn.connection.dbapi_connection.run_async(lambda _: interleave())

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if raced and (statement.lstrip()[:6].upper() in WRITES or "FOR UPDATE" in statement):
            responder_writes.set()  # the batch is paused: this is the responder, about to wait for it

    event.listen(engine.sync_engine, "after_cursor_execute", after)
    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield
        await asyncio.gather(*responding)
    finally:
        event.remove(engine.sync_engine, "after_cursor_execute", after)
        event.remove(engine.sync_engine, "before_cursor_execute", before)
    assert raced, "no batch read drafts: the responder never got to act mid-batch"


@contextlib.asynccontextmanager
async def batch_mid_action(engine: AsyncEngine, run_batch: Callable[[], Awaitable[int]]) -> AsyncIterator[list[int]]:
    """Run the scheduler once while a responder's action has read its incident's timer and written
    nothing yet (so the actor must be someone Beacon already knows). Yields how many timers fired.
    On PostgreSQL the batch runs right there, and passes over the timers the action has locked. On
    SQLite the action holds the writer's turn from its first read, so the batch starts there and
    waits for the action to commit."""
    fired: list[int] = []
    waiting: list[asyncio.Future[int]] = []

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if not fired and statement.startswith("SELECT timers.") and "LIMIT" not in statement \
                and "FOR UPDATE" not in statement:  # neither a claim nor the action's lock
            fired.append(0)
            if engine.dialect.name == "sqlite":
                waiting.append(asyncio.ensure_future(run_batch()))
            else:
                fired[0] = conn.connection.dbapi_connection.run_async(lambda _: run_batch())

    event.listen(engine.sync_engine, "after_cursor_execute", after)
    try:
        yield fired
        if waiting:
            assert not waiting[0].done(), "the batch ran while the action held the writer's turn"
            fired[0] = await waiting[0]
    finally:
        event.remove(engine.sync_engine, "after_cursor_execute", after)
    assert fired, "the action read no timer: the batch never ran mid-action"

async def act(deps: Deps, incident_id: int, verb: Verb, actor: Person = ALICE, **data: str) -> None:
    outcome = await act_on_incident(IncidentAction(verb, incident_id, None, data, actor), deps)
    assert outcome.applied, outcome.notice


@dataclass(frozen=True)
class Card:
    """A reminder or status update queued for Teams (incident thread or stakeholder channel)."""

    incident_id: int
    card: str
    audience: str
    sequence: int
    text: str


async def cards(deps: Deps, card: str) -> list[Card]:
    async with deps.uow() as uow:
        rows = list(await uow.session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
    found = []
    for row in rows:
        if row.kind == "teams.thread_card" and row.payload["card"] == card:
            found.append(Card(row.incident_id or 0, card, row.payload["audience"], row.payload["sequence"],
                              row.payload["text"]))
        elif row.kind == "teams.stakeholder_post" and card == "status_update" and (
                row.payload.get("message") or {}).get("kind") == "update":
            message = row.payload["message"]  # the stakeholders' message: what is being done is the update
            found.append(Card(row.incident_id or 0, card, "stakeholders", message["sequence"], message["doing"]))
    return found


async def timeline(deps: Deps, incident_id: int | None = None) -> list[TimelineRow]:
    async with deps.uow() as uow:
        query = select(TimelineRow).order_by(TimelineRow.id)
        if incident_id is not None:
            query = query.where(TimelineRow.incident_id == incident_id)
        return list(await uow.session.scalars(query))


async def firings(deps: Deps) -> Counter[tuple[int, str, str, int | None]]:
    """What the scheduler recorded on the timelines: (incident, "reminder", audience, sequence) per
    reminder and (incident, "automatic update", audience, None) per automatic update."""
    counted: Counter[tuple[int, str, str, int | None]] = Counter()
    for row in await timeline(deps):
        after = row.after or {}
        if row.kind == "update_reminder":
            counted[(row.incident_id, "reminder", after["audience"], after["sequence"])] += 1
        elif row.kind == "status_update" and after.get("automatic"):
            counted[(row.incident_id, "automatic update", after["audience"], None)] += 1
    return counted


def once_each(incident_ids: list[int], audiences: tuple[str, ...] = (plan.RESPONDERS,),
              sequence: int = 1) -> Counter[tuple[int, str, str, int | None]]:
    """Each incident's update of each audience reminded once, then posted by Beacon once."""
    return Counter({key: 1 for i in incident_ids for a in audiences
                    for key in ((i, "reminder", a, sequence), (i, "automatic update", a, None))})


async def timers(deps: Deps) -> dict[tuple[int, str], tuple[str, int]]:
    async with deps.uow() as uow:
        return {(t.incident_id, t.kind): (t.phase, t.sequence) for t in await uow.session.scalars(select(TimerRow))}


async def test_a_note_racing_a_batch_is_kept_and_every_timer_still_fires_once(deps, engine, batches):
    clock: FakeClock = deps.clock
    scheduler = Scheduler(deps.uow, CONFIG, clock, batch=4)
    incidents = []
    for number in range(6):  # due a second apart, so the batches take them in this order
        incidents.append(await declare(deps, f"Outage {number}"))
        clock.advance(timedelta(seconds=1))
    clock.advance(timedelta(hours=1) - timedelta(seconds=6))
    for _ in incidents:  # each reminder on time, so the automatic updates fall due a second apart too
        assert await scheduler.run_once() == 1
        clock.advance(timedelta(seconds=1))
    clock.advance(GRACE)
    first = incidents[0]
    batches.clear()

    async with mid_batch(engine, lambda: act(deps, first, Verb.NOTE, actor=BOB, note="Failover started")):
        assert await scheduler.run_once() == 6

    notes = [row for row in await timeline(deps, first) if row.kind == "note"]
    assert [n.summary for n in notes] == ["Failover started"]  # the responder's change survived, once
    assert await firings(deps) == once_each(incidents)
    updates = {c.incident_id: c for c in await cards(deps, "status_update")}
    assert sorted((c.incident_id, c.audience, c.sequence) for c in updates.values()) == [
        (i, plan.RESPONDERS, 1) for i in incidents]
    assert await timers(deps) == {**{(i, "responders"): ("due", 2) for i in incidents},
                                  **{(i, "stakeholders"): ("due", 1) for i in incidents}}
    [automatic] = [row for row in await timeline(deps, first) if row.kind == "status_update"]
    if engine.dialect.name == "sqlite":
        # The note committed between the batch's read and its write: the whole batch was void and was
        # tried again at half the size, which read the note; the next batch was back to full size.
        assert batches.sizes == [4, 2, 4, 4]
        assert "Failover started" in updates[first].text
        assert notes[0].incident_version < automatic.incident_version
    else:
        # The batch's row locks held the note back until the batch committed; the note, written for
        # the version the responder had read, lost and was applied again on top of the update.
        assert batches.sizes == [4, 4, 4]
        assert "Failover started" not in updates[first].text
        assert notes[0].incident_version > automatic.incident_version


async def test_an_update_posted_while_a_batch_reminds_its_owner_counts_once(deps, engine, batches):
    clock: FakeClock = deps.clock
    scheduler = Scheduler(deps.uow, CONFIG, clock, batch=4)
    first, *others = incidents = [await declare(deps, f"Outage {number}") for number in range(4)]
    clock.advance(timedelta(hours=1))
    batches.clear()

    async with mid_batch(engine, lambda: act(deps, first, Verb.POST_UPDATE, audience=plan.RESPONDERS,
                                             update="Failover done")):
        fired = await scheduler.run_once()
    posted_at = clock.now()
    clock.advance(GRACE)
    assert await scheduler.run_once() == 3  # Beacon's updates for the others; the owner posted hers
    clock.advance(posted_at + timedelta(hours=1) - clock.now())
    # Her next update falls due, so do the others' (anchored to 1:00, not to their automatic
    # update), and everyone's first stakeholder one.
    assert await scheduler.run_once() == 8

    updates = await cards(deps, "status_update")
    assert sorted((c.incident_id, c.audience, c.sequence) for c in updates) == [
        (i, plan.RESPONDERS, 1) for i in incidents]
    assert [c.text for c in updates if c.incident_id == first] == ["Failover done"]
    reminded = [(c.incident_id, c.sequence) for c in await cards(deps, "reminder") if c.audience == plan.RESPONDERS]
    expected = once_each(others) + Counter({(i, "reminder", plan.RESPONDERS, 2): 1 for i in incidents}) + Counter(
        {(i, "reminder", plan.STAKEHOLDERS, 1): 1 for i in incidents})  # her next one: reminded, not posted for
    if engine.dialect.name == "sqlite":
        # The post re-armed the timer between the batch's read and its write: the batch was void, and
        # was tried again at half the size without the owner who had just posted.
        assert fired == 3 and batches.sizes[:4] == [4, 2, 4, 4]
        assert sorted(reminded) == [(first, 2)] + sorted((i, n) for i in others for n in (1, 2))
    else:
        # The batch had the timer locked: its reminder went out, and the post re-armed the timer after.
        assert fired == 4 and batches.sizes[:2] == [4, 4]
        assert sorted(reminded) == [(first, 1), (first, 2)] + sorted((i, n) for i in others for n in (1, 2))
        expected[(first, "reminder", plan.RESPONDERS, 1)] = 1
    assert await firings(deps) == expected


async def post_as_her_update_falls_due(deps: Deps, engine: AsyncEngine) -> tuple[Scheduler, int, list[int]]:
    """Alice posts the responders' update just as it falls due, with a batch run mid-action: the
    scheduler, the incident and how many timers that batch fired."""
    assert isinstance(deps.clock, FakeClock)
    scheduler = Scheduler(deps.uow, CONFIG, deps.clock)
    incident = await declare(deps)
    deps.clock.advance(timedelta(hours=1))
    async with batch_mid_action(engine, scheduler.run_once) as fired:
        await act(deps, incident, Verb.POST_UPDATE, audience=plan.RESPONDERS, update="Failover done")
    return scheduler, incident, fired


async def test_a_batch_due_while_its_owner_posts_waits_for_her_update(deps, engine):
    # SQLite: the action holds the writer's turn. PostgreSQL: it holds its incident's timers and row,
    # which the batch passes over. Either way no reminder goes out for an update being posted.
    clock: FakeClock = deps.clock
    scheduler, incident, fired = await post_as_her_update_falls_due(deps, engine)
    assert fired == [0]  # her update went in first: nothing was due any more when the batch ran
    clock.advance(timedelta(hours=1))
    assert await scheduler.run_once() == 2  # her next update falls due, and the first stakeholder one

    updates = [(c.audience, c.sequence, c.text) for c in await cards(deps, "status_update")]
    assert updates == [(plan.RESPONDERS, 1, "Failover done")]
    assert await firings(deps) == Counter({(incident, "reminder", plan.RESPONDERS, 2): 1,
                                           (incident, "reminder", plan.STAKEHOLDERS, 1): 1})


async def test_two_timers_of_one_incident_due_at_once_fire_in_successive_batches(deps, batches):
    clock: FakeClock = deps.clock
    scheduler = Scheduler(deps.uow, CONFIG, clock)
    incident = await declare(deps, impact="medium")  # both audiences' updates due in two hours
    clock.advance(timedelta(minutes=30))
    await act(deps, incident, Verb.NOTE, note="Error rate back under 1%")
    clock.advance(timedelta(minutes=90))
    batches.clear()

    assert await scheduler.run_once() == 2
    clock.advance(GRACE)
    assert await scheduler.run_once() == 2

    assert batches.sizes == [1000] * 6  # each phase: one timer per batch, then a batch that found nothing
    assert batches.recorded == [1, 1, 2, 2]
    assert await firings(deps) == once_each([incident], (plan.RESPONDERS, plan.STAKEHOLDERS))
    reminders = await cards(deps, "reminder")
    assert sorted((c.audience, c.sequence) for c in reminders) == [(plan.RESPONDERS, 1), (plan.STAKEHOLDERS, 1)]
    first, second = await cards(deps, "status_update")  # in the order they were queued
    assert sorted((c.audience, c.sequence) for c in (first, second)) == [(plan.RESPONDERS, 1),
                                                                        (plan.STAKEHOLDERS, 1)]
    # The second one read the incident after the first was saved: the note was already reported.
    assert first.text.endswith("Since the last update: declared P2: Checkout failing; Error rate back under 1%.")
    assert second.text.endswith("Nothing has changed since the last update.")  # the team's note is not theirs
    versions = [row.incident_version for row in await timeline(deps, incident) if row.kind == "status_update"]
    assert versions == [versions[0], versions[0] + 1]
    assert await timers(deps) == {(incident, plan.RESPONDERS): ("due", 2), (incident, plan.STAKEHOLDERS): ("due", 2)}


def whole_timeline_draft(events: list[TimelineRow], audience: str = plan.RESPONDERS) -> str:
    """What an automatic update lists, computed the straightforward way from the whole timeline: the
    changes after the audience's own last status update, leaving out the quiet kinds, the latest
    few; stakeholders read only how the status and the priority changed, in words."""
    last = max((index for index, e in enumerate(events) if e.kind == "status_update"
                and e.after["audience"] == audience), default=-1)
    if audience == plan.RESPONDERS:
        changes = [e.summary for e in events[last + 1:] if e.kind not in plan.QUIET_KINDS | {"status_update"}]
        changes = changes[-plan.CHANGES_SHOWN:]
        return f"Since the last update: {'; '.join(changes)}." if changes else "No change since the last update."
    said = [f"the status moved to {e.after['status']}" if e.kind in ("status_changed", "reopened")
            else f"the priority is now {e.after['priority']}" for e in events[last + 1:]
            if e.kind in ("status_changed", "reopened", "priority_changed")]
    said = list(dict.fromkeys(said))[-plan.CHANGES_SHOWN:]
    return f"Since the last update, {'; '.join(said)}." if said else "Nothing has changed since the last update."


async def test_each_automatic_update_lists_what_the_whole_timeline_says_changed_since_the_last(deps):
    clock: FakeClock = deps.clock
    scheduler = Scheduler(deps.uow, CONFIG, clock)

    async def at(minutes: int) -> None:  # minutes after the declarations
        clock.advance(start + timedelta(minutes=minutes) - clock.now())

    start = clock.now()
    a, b, c = [await declare(deps, title) for title in ("Checkout failing", "Card declines", "Login slow")]
    await at(5)
    await act(deps, a, Verb.NOTE, note="Errors at 40%")
    await act(deps, a, Verb.STATUS, status="investigating")
    await act(deps, b, Verb.NOTE, note="Declines rising")
    await at(20)
    await act(deps, a, Verb.POST_UPDATE, audience=plan.RESPONDERS, update="Rolling back 4.2")
    await at(25)
    for step in range(1, 7):
        await act(deps, a, Verb.NOTE, note=f"Step {step}")
    await act(deps, a, Verb.STATUS, status="fixing")
    await act(deps, a, Verb.ACKNOWLEDGE)
    await act(deps, b, Verb.STATUS, status="investigating")
    async with deps.uow() as uow:  # what the outbox worker records: quiet, never listed
        found = await uow.incidents.get(b)
        assert found is not None
        await uow.timeline.record(b, TimelineEvent("delivery_failed", clock.now(), None, "email to desk failed"),
                               found.version)
        await uow.commit()
    await at(60)
    assert await scheduler.run_once() == 2  # reminders for b and c (a posted, its timer was reset)
    await at(65)
    await act(deps, b, Verb.NOTE, note="Declines back to normal")
    await at(70)
    assert await scheduler.run_once() == 2  # automatic updates for b and c
    await at(80)
    assert await scheduler.run_once() == 1  # reminder for a
    await at(85)
    await act(deps, a, Verb.NOTE, note="Rollback at 50%")
    await at(90)
    assert await scheduler.run_once() == 1  # automatic update for a
    await at(100)
    await act(deps, b, Verb.NOTE, note="Monitoring")
    await act(deps, c, Verb.POST_UPDATE, audience=plan.STAKEHOLDERS, update="Investigating login")
    await at(120)
    # Stakeholder reminders for a and b (c posted), and responder reminders for b and c: their
    # updates fall due on the hour, two hours after the declaration, not after the grace period.
    assert await scheduler.run_once() == 4
    await at(130)
    assert await scheduler.run_once() == 4  # their automatic updates
    await at(140)
    assert await scheduler.run_once() == 1  # reminder for a (its cadence restarted when it posted at 20)

    posted = {card.text for card in await cards(deps, "status_update")}
    checked = []
    for incident in (a, b, c):
        events = await timeline(deps, incident)
        for index, update in enumerate(events):
            if update.kind == "status_update" and update.after["automatic"]:
                assert events[index - 1].kind == "update_missed"  # the firing's own entries
                draft = update.after["text"].split(". ", 1)[1]  # after "INC-n is <status> at <priority>."
                assert draft == whole_timeline_draft(events[:index - 1], update.after["audience"]), (
                    incident, update.after)
                assert update.after["text"] in posted
                checked.append((incident, update.after["audience"], draft))
    assert len(checked) == 7
    assert (a, plan.RESPONDERS, "Since the last update: Step 4; Step 5; Step 6; "
            "Alice moved it from investigating to fixing; Alice acknowledged; Rollback at 50%.") in checked
    # b's two updates at 130 fire one after the other; the stakeholders' one counts from their own
    # last update (none: the declaration), not the responders', and never lists the team's note
    # (whole_timeline_draft above checks each).
    b_updates = [(audience, draft) for incident, audience, draft in checked if incident == b][1:]
    assert (plan.STAKEHOLDERS, "Since the last update, the status moved to investigating.") in b_updates
    assert all("Monitoring" not in draft for audience, draft in b_updates if audience == plan.STAKEHOLDERS)
    assert (c, plan.RESPONDERS, "No change since the last update.") in checked

    await act(deps, a, Verb.NOTE, note="Rollback done")  # and the drafts the next updates would start from
    async with deps.uow() as uow:
        drafts = await uow.timeline.changes_since_last_update([a, b, c], leave_out=plan.QUIET_KINDS | {"status_update"},
                                                     limit=plan.CHANGES_SHOWN, audience=plan.RESPONDERS)
        incidents = await uow.incidents.many([a, b, c])
    for incident in (a, b, c):
        found, whole = incidents[incident], whole_timeline_draft(await timeline(deps, incident))
        expected = f"{found.number} is {found.status} at {found.priority}. {whole}"
        assert plan.automatic_update_text(found, drafts.get(incident, [])) == expected


async def test_notes_longer_than_an_update_are_capped_and_do_not_stall_the_batch(deps, batches):
    clock: FakeClock = deps.clock
    scheduler = Scheduler(deps.uow, CONFIG, clock)
    incidents = [await declare(deps, f"Outage {number}") for number in range(3)]
    first, wordy, last = incidents
    notes = [letter * 1500 for letter in "xyz"]  # 4,500 characters in all
    for note in notes:
        await act(deps, wordy, Verb.NOTE, note=note)
    clock.advance(timedelta(hours=1))
    batches.clear()

    assert await scheduler.run_once() == 3
    clock.advance(GRACE)
    assert await scheduler.run_once() == 3

    assert batches.sizes == [1000] * 4 and batches.recorded == [3, 6]  # each phase in one batch
    assert await firings(deps) == once_each(incidents)
    whole = f"INC-{wordy} is triage at P1. Since the last update: declared P1: Outage 1; {'; '.join(notes)}."
    for card in ("reminder", "status_update"):  # the draft the owner was offered, then what Beacon posted
        texts = {c.incident_id: c.text for c in await cards(deps, card)}
        assert set(texts) == set(incidents)
        assert texts[wordy] == whole[:MAX_TEXT - 1] + "…"
        assert texts[first] == f"INC-{first} is triage at P1. Since the last update: declared P1: Outage 0."
        assert texts[last] == f"INC-{last} is triage at P1. Since the last update: declared P1: Outage 2."


async def test_more_timers_due_than_a_batch_holds_all_fire_once_over_several_batches(deps, batches):
    clock: FakeClock = deps.clock
    scheduler = Scheduler(deps.uow, CONFIG, clock, batch=7)
    incidents = [await declare(deps, f"Outage {number}") for number in range(30)]
    clock.advance(timedelta(hours=1))
    batches.clear()

    assert await scheduler.run_once() == 30
    assert batches.sizes == [7] * 6  # the last batch finds nothing left
    assert batches.recorded == [7, 7, 7, 7, 2]  # reminders
    clock.advance(GRACE)
    assert await scheduler.run_once() == 30
    assert batches.recorded[5:] == [14, 14, 14, 14, 4]  # automatic updates, each with its missed-update entry

    assert await firings(deps) == once_each(incidents)
    for card in ("reminder", "status_update"):
        assert sorted((c.incident_id, c.audience, c.sequence) for c in await cards(deps, card)) == [
            (i, plan.RESPONDERS, 1) for i in incidents]
    assert await timers(deps) == {**{(i, plan.RESPONDERS): ("due", 2) for i in incidents},
                                  **{(i, plan.STAKEHOLDERS): ("due", 1) for i in incidents}}


async def test_an_update_recorded_before_updates_named_their_audience_counts_as_the_responders(deps):
    incident = await declare(deps)
    await act(deps, incident, Verb.NOTE, note="Before the update")
    await act(deps, incident, Verb.POST_UPDATE, audience=plan.RESPONDERS, update="Rolling back")
    async with deps.uow() as uow:  # as older rows were written: no audience in the details
        row = await uow.session.scalar(select(TimelineRow).where(TimelineRow.incident_id == incident,
                                                                 TimelineRow.kind == "status_update"))
        assert row is not None and row.after is not None
        row.after = {key: value for key, value in row.after.items() if key != "audience"}
        await uow.commit()
    await act(deps, incident, Verb.NOTE, note="After the update")

    async with deps.uow() as uow:
        changes = await uow.timeline.changes_since_last_update(
            [incident], leave_out=plan.QUIET_KINDS | {"status_update"}, limit=plan.CHANGES_SHOWN,
            audience=plan.RESPONDERS)
        stakeholders = await uow.timeline.changes_since_last_update(
            [incident], leave_out=plan.QUIET_KINDS | {"status_update"}, limit=plan.CHANGES_SHOWN,
            audience=plan.STAKEHOLDERS)
    assert [event.summary for event in changes[incident]] == ["After the update"]
    assert "Before the update" in [event.summary for event in stakeholders[incident]]
