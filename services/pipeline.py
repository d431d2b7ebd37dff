"""The steps every incident goes through when it is declared or changed, inside a transaction the
caller holds: store it with its timeline, follow the communication plan (timers, notifications,
status updates, resolution notice), page the people on call and escalate until one acknowledges,
redraw its card with a note in its thread, give a big incident a channel of its own, learn the
names of people picked by id, and let the observers (ticketing, the review) react.

Every entry point calls these: the card use cases (services.lifecycle) open a unit of work around
one domain method and these steps; intake calls them inside its own transaction, because an
alert's receipt and the incident it opens (or a reported issue and the incident declared from it)
must commit together. A step added here reaches every way an incident can change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from services.channels import usecases as channels
from services.comms import hooks, notify
from services.comms.thread_lines import thread_lines
from services.deps import Deps, ThreadTarget
from services.incidents import Incident, Level, TimelineEvent
from services.paging import usecases as paging
from services.scheduler import timers
from services.store.uow import UnitOfWork
from services.tracing import tag_incident

BeforeObservers = Callable[[Incident], Awaitable[None]]


async def declare_within(uow: UnitOfWork, incident: Incident, target: ThreadTarget, deps: Deps, now: datetime,
                         *, before_observers: BeforeObservers | None = None) -> Incident:
    """Store a new incident with its thread, timers, notifications and observers' effects;
    `before_observers` links what it was declared from before the observers see it."""
    incident_events = list(incident.pending_events)
    await uow.incidents.add(incident, config_version=deps.config.fingerprint())
    tag_incident(incident.number)
    timers.start(uow, incident, deps.config, now)
    await uow.incidents.save(incident)
    await notify.incident_thread(uow, incident, target.to_dict(), now)
    await notify.resolve_names(uow, incident, now)
    await notify.assignments(uow, incident, incident_events, now)
    await notify.initial_notification(uow, incident, deps.config, now, endpoint={
        "service_url": target.service_url, "tenant_id": target.tenant_id},
        status_url=await deps.status_url(uow, incident, now))
    await paging.start_paging(uow, incident, deps, now)  # never behind the thread: pages have keys of their own
    await channels.follow(uow, incident, deps.config, now, near=target.channel_id)
    if before_observers is not None:
        await before_observers(incident)
    for observer in deps.observers if not incident.drill else ():  # drills stay inside Teams
        await observer.on_declared(uow, incident, now)
    return incident


async def change_within(uow: UnitOfWork, incident: Incident, deps: Deps, now: datetime, *, was_open: bool,
                        old_impact: Level, note: str = "") -> list[TimelineEvent]:
    """Save a change already applied to `incident` (its pending events), with the communication
    plan's hooks, the card refresh and thread note, and the observers' effects."""
    paging.acknowledge_by_change(incident, deps, now)
    tag_incident(incident.number)
    events = list(incident.pending_events)
    summaries = [note] if note else []
    summaries += thread_lines(events, incident)
    sequences = await hooks.before_save(uow, incident, was_open=was_open, old_impact=old_impact,
                                        events=events, config=deps.config, now=now)
    await uow.incidents.save(incident)
    emailed = any(e.kind in ("status_update", "resolved") for e in events)  # what may email a client's people
    await hooks.after_save(uow, incident, events=events, sequences=sequences, config=deps.config, now=now,
                           status_url=await deps.status_url(uow, incident, now) if emailed else "")
    await paging.follow_change(uow, incident, events)
    await notify.resolve_names(uow, incident, now)
    await notify.assignments(uow, incident, events, now)
    await notify.card_refresh(uow, incident, now, note="; ".join(summaries))
    await channels.follow(uow, incident, deps.config, now)
    for observer in deps.observers if not incident.drill else ():
        await observer.on_changed(uow, incident, events, now)
    return events
