"""How the communication plan follows an incident's changes, in the same transaction."""

from __future__ import annotations

from datetime import datetime

from services.comms import notify
from services.config import BeaconConfig
from services.incidents import Incident, Level, Status, TimelineEvent
from services.scheduler import timers
from services.store.uow import UnitOfWork


async def before_save(uow: UnitOfWork, incident: Incident, *, was_open: bool, old_impact: Level,
                      events: list[TimelineEvent], config: BeaconConfig, now: datetime) -> dict[int, int]:
    """Adjust timers for the change; returns the update sequence of each status_update event."""
    sequences: dict[int, int] = {}
    if not incident.is_open:
        await timers.stop(uow, incident)
        return sequences
    if not was_open:  # reopened: the plan starts again
        await timers.arm(uow, incident, config, now)
    elif incident.impact is not old_impact:  # the cadence follows the current impact
        await timers.arm(uow, incident, config, now, (timers.RESPONDERS,))
    for index, event in enumerate(events):
        if event.kind == "status_update":  # an update posted early resets the clock
            audience = (event.after or {}).get("audience", timers.RESPONDERS)
            used = await timers.arm(uow, incident, config, now, (audience,), advance_sequence=True)
            sequences[index] = used[audience]
    return sequences


async def after_save(uow: UnitOfWork, incident: Incident, *, events: list[TimelineEvent],
                     sequences: dict[int, int], config: BeaconConfig, now: datetime, status_url: str = "") -> None:
    """`status_url`: the client's status page, linked from the emails to the client's people."""
    for index, event in enumerate(events):
        if event.kind == "status_update":
            await notify.status_update(uow, incident, config, event, sequences.get(index, 0), now, status_url)
    if any(e.kind == "resolved" for e in events) and incident.status is Status.RESOLVED:
        assert incident.id is not None
        await notify.resolution_notice(uow, incident, config, await uow.timeline.of(incident.id), now, status_url)
