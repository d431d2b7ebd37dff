"""What intake writes beside the core's steps (services.pipeline), inside the transaction the
caller holds: timeline entries that change no incident field, card redraws and thread notes that
collapse a storm of repeats, and where an incident nobody declared in Teams is posted.

An alert's receipt, its dedup row and the incident it opens commit together (a 2xx means all of
it is stored), and a reported issue is linked to the incident declared from it in the same
transaction, before the ticket observer decides whether to create a ticket: so intake calls the
pipeline's declare_within and change_within inside its own unit of work.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.deps import ThreadTarget
from services.effects.teams import ThreadNote, UpdateCard
from services.incidents import Incident, Person, TimelineEvent
from services.policy import BEACON as BEACON  # intake acts as Beacon
from services.store.uow import UnitOfWork

def entry(incident: Incident, kind: str, summary: str, now: datetime, *, actor: Person | None = None,
          after: dict[str, object] | None = None) -> tuple[int, int, TimelineEvent]:
    """A timeline entry that changes no incident field, so no one's card becomes stale: (incident
    id, the version it was made at, the event), as Timeline.record_many writes them."""
    assert incident.id is not None
    return incident.id, incident.version, TimelineEvent(kind, now, actor, summary, after=after)


async def record(uow: UnitOfWork, incident: Incident, kind: str, summary: str, now: datetime, *,
                 actor: Person | None = None, after: dict[str, object] | None = None) -> None:
    """Write `entry` now."""
    incident_id, version, event = entry(incident, kind, summary, now, actor=actor, after=after)
    await uow.timeline.record(incident_id, event, version)


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
