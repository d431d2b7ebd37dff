"""The core's declare and change steps, inside a transaction the caller already holds.

An alert's receipt, its dedup row and the incident it opens must commit together (a 2xx means
all of it is stored), and a reported issue is linked to the incident declared from it in the same
transaction, before the ticket observer decides whether to create a ticket. So these mirror
services.lifecycle.declare_incident and _act_once step for step, minus their own unit of work:
a change to those steps belongs here too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from services.comms import hooks, notify
from services.effects.teams import ThreadNote, UpdateCard
from services.incidents import Incident, Level, Person, TimelineEvent
from services.lifecycle import SYSTEM_ACTOR, Deps, ThreadTarget
from services.scheduler import timers
from services.store.uow import UnitOfWork

# Who Beacon is on the timeline when it acts on its own (an alert declared or reopened it); the
# core lets this actor do anything.
BEACON = Person(SYSTEM_ACTOR, "Beacon")

BeforeObservers = Callable[[Incident], Awaitable[None]]


async def declare_within(uow: UnitOfWork, incident: Incident, target: ThreadTarget, deps: Deps, now: datetime,
                         *, before_observers: BeforeObservers | None = None) -> Incident:
    """Store a new incident with its thread, timers, notifications and observers' effects."""
    await uow.incidents.add(incident, config_version=deps.config.fingerprint())
    await timers.arm(uow, incident, deps.config, now)
    await uow.incidents.save(incident)
    await notify.incident_thread(uow, incident, target.to_dict(), now)
    await notify.resolve_names(uow, incident, now)
    await notify.initial_notification(uow, incident, deps.config, now, endpoint={
        "service_url": target.service_url, "tenant_id": target.tenant_id})
    if before_observers is not None:
        await before_observers(incident)
    for observer in deps.observers if not incident.drill else ():
        await observer.on_declared(uow, incident, now)
    return incident


async def change_within(uow: UnitOfWork, incident: Incident, deps: Deps, now: datetime, *, was_open: bool,
                        old_impact: Level, note: str = "") -> list[TimelineEvent]:
    """Save a change already applied to `incident` (its pending events), with the communication
    plan's hooks, the card refresh and thread note, and the observers' effects."""
    events = list(incident.pending_events)
    summaries = [note] if note else []
    summaries += [e.summary for e in events if e.kind != "status_update"]
    sequences = await hooks.before_save(uow, incident, was_open=was_open, old_impact=old_impact,
                                        events=events, config=deps.config, now=now)
    await uow.incidents.save(incident)
    await hooks.after_save(uow, incident, events=events, sequences=sequences, config=deps.config, now=now)
    await notify.card_refresh(uow, incident, now, note="; ".join(summaries))
    for observer in deps.observers if not incident.drill else ():
        await observer.on_changed(uow, incident, events, now)
    return events


async def record(uow: UnitOfWork, incident: Incident, kind: str, summary: str, now: datetime, *,
                 actor: Person | None = None, after: dict[str, object] | None = None) -> None:
    """A timeline entry that changes no incident field, so no one's card becomes stale."""
    assert incident.id is not None
    await uow.timeline.record(incident.id, TimelineEvent(kind, now, actor, summary, after=after), incident.version)


async def refresh_card(uow: UnitOfWork, incident_id: int, key: str, now: datetime) -> None:
    """Redraw the incident card for everyone, unless a redraw is already waiting: it renders the
    state at delivery, so fifty repeats of an alert cost one card update, not fifty. The waiting
    row is locked (PostgreSQL) or the database is (SQLite), so it cannot be delivered between this
    check and the commit with an older state."""
    await refresh_cards(uow, {incident_id: key}, now)


async def refresh_cards(uow: UnitOfWork, redraws: dict[int, str], now: datetime, *,
                        delay: timedelta = timedelta(0)) -> None:
    """refresh_card for several incidents ({incident id: key}), with one look-up of the redraws
    already waiting. With a `delay` each new redraw waits that long before it is sent, and every
    request for one meanwhile joins it: at most one redraw per incident per `delay`."""
    waiting = await uow.outbox.incidents_waiting(UpdateCard, redraws)
    for incident_id in sorted(redraws):
        if incident_id not in waiting:
            await uow.outbox.add(UpdateCard(incident_id, f"INC-{incident_id} card update (intake)",
                                            f"intake:card:{redraws[incident_id]}"), now=now, not_before=now + delay)


async def thread_note(uow: UnitOfWork, incident_id: int, text: str, key: str, now: datetime) -> None:
    await uow.outbox.add(ThreadNote(incident_id, text, f"INC-{incident_id} thread note (intake)",
                                    f"intake:note:{key}"), now=now)


async def thread_target(uow: UnitOfWork, channel: str) -> ThreadTarget | None:
    """Where Beacon posts what nobody declared in Teams (an alert's incident, a report): `channel`
    (a configured channel id) or the channel of the first team Beacon was installed in, with that
    installation's service URL and tenant. None when Beacon is installed in no team yet."""
    install = await uow.installations.any_team()
    if install is None:
        return None
    return ThreadTarget(install.service_url, install.tenant_id, channel_id=channel or install.channel_id)
