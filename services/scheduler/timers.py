"""Arming and stopping the status-update timers of an incident (inside the caller's transaction)."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.comms.messages import RESPONDERS, STAKEHOLDERS, cadence
from services.config import BeaconConfig
from services.incidents import Incident
from services.store.uow import UnitOfWork

KINDS = (RESPONDERS, STAKEHOLDERS)
__all__ = ["KINDS", "RESPONDERS", "STAKEHOLDERS", "arm", "cadence", "next_anchored", "start", "stop"]


def next_anchored(fell_due: datetime, cadence: timedelta, now: datetime) -> datetime:
    """The first due time after now on the schedule through `fell_due`: one cadence later, or,
    when Beacon was down through several, the next one still ahead (no burst of catch-ups)."""
    due = fell_due + cadence
    if due > now:
        return due
    return due + cadence * ((now - due) // cadence + 1)


async def arm(uow: UnitOfWork, incident: Incident, config: BeaconConfig, now: datetime,
              kinds: tuple[str, ...] = KINDS, *, advance_sequence: bool = False) -> dict[str, int]:
    """Next update of each kind due one cadence from now; the card shows the responders' one."""
    assert incident.id is not None
    return {kind: await uow.timers.arm(incident.id, kind, due, advance_sequence=advance_sequence)
            for kind, due in _next_updates(incident, config, now, kinds).items()}


def start(uow: UnitOfWork, incident: Incident, config: BeaconConfig, now: datetime) -> None:
    """arm, for an incident declared in this unit of work: its first timers, nothing to read."""
    assert incident.id is not None
    for kind, due in _next_updates(incident, config, now, KINDS).items():
        uow.timers.start(incident.id, kind, due)


def _next_updates(incident: Incident, config: BeaconConfig, now: datetime,
                  kinds: tuple[str, ...]) -> dict[str, datetime]:
    """When each kind's next update falls due; the card shows the responders' one."""
    due = {kind: now + cadence(config, incident, kind) for kind in kinds}
    if RESPONDERS in due:
        incident.next_update_due = due[RESPONDERS]
    return due


async def stop(uow: UnitOfWork, incident: Incident) -> None:
    assert incident.id is not None
    await uow.timers.stop(incident.id)
    incident.next_update_due = None
