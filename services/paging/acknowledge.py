"""Acknowledging a page from outside Teams: the signed link (SMS, email) and the phone's key press.

One use case for both, through the pipeline like every change: the incident's acknowledgement,
its timeline entry (who and how), the card redraw and the end of the escalation commit together.
An answer that would change nothing (the incident already acknowledged or over, the link used
before) commits nothing.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from services.deps import Deps
from services.errors import ConcurrentUpdate
from services.incidents import Incident, Person
from services.paging.directory import find_person
from services.pipeline import change_within

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork


@dataclass(frozen=True)
class AckOutcome:
    acknowledged: bool
    message: str
    incident: Incident | None = None
    already_used: bool = False  # the link or key press was answered before: nothing changed now


def paged_person(deps: Deps, key: str) -> Person:
    """The directory person a page went to, as the timeline and the card name them."""
    found = find_person(deps.config, key)
    if found is None:
        return Person(key, key)
    return Person(found.aad_object_id or found.key, found.name or found.key)


async def acknowledge_page(deps: Deps, incident_id: int, person_key: str, via: str, *, level: int = 0,
                           round_: int = 0, use_key: str = "") -> AckOutcome:
    """Acknowledge incident `incident_id` as the paged person `person_key`. With `use_key` (a signed
    link's nonce) the answer is accepted once only."""
    for attempt in range(1, 7):
        try:
            return await _acknowledge_once(deps, incident_id, person_key, via, level, round_, use_key)
        except ConcurrentUpdate:
            await asyncio.sleep(random.uniform(0, 0.03 * attempt))
    return AckOutcome(False, "The incident is changing fast right now; try again in a moment.")


async def _acknowledge_once(deps: Deps, incident_id: int, person_key: str, via: str, level: int, round_: int,
                            use_key: str) -> AckOutcome:
    now = deps.clock.now()
    async with deps.uow() as uow:
        await uow.write_first()
        if use_key and await uow.activities.was_processed(use_key):
            return AckOutcome(False, "This acknowledge link was already used.", already_used=True)
        incident = await uow.incidents.get(incident_id)
        if incident is None:
            return AckOutcome(False, f"INC-{incident_id} does not exist.")
        if not incident.is_open:
            return AckOutcome(False, f"{incident.label} is {incident.status.value}: there is nothing to acknowledge.",
                              incident)
        person = paged_person(deps, person_key)
        if incident.acknowledged_at is not None and level == 0 and round_ > 0:
            return await _join(uow, deps, incident, person, now, use_key)
        if incident.acknowledged_at is not None:
            who = incident.acknowledged_by.name if incident.acknowledged_by else "someone"
            return AckOutcome(False, f"{incident.label} was already acknowledged by {who}.", incident)
        incident.acknowledge(person, now, via=via, page={"level": level, "round": round_} if level else None)
        await change_within(uow, incident, deps, now, was_open=True, old_impact=incident.impact)
        if use_key and not await uow.activities.mark_processed(use_key, incident_id, now):
            raise ConcurrentUpdate(incident.number)  # the same link, pressed twice at once: judge again
        await uow.commit()
    return AckOutcome(True, f"{person.name} acknowledged {incident.label}. Escalation stopped.", incident)


async def _join(uow: UnitOfWork, deps: Deps, incident: Incident, person: Person, now: datetime,
                use_key: str) -> AckOutcome:
    """A page by hand (level 0) answered after someone acknowledged the incident: the person who
    answers joins it as a responder, which is what they were asked for."""
    involved = {p.aad_object_id for p in (incident.commander, *incident.responders) if p}
    if person.aad_object_id in involved:
        return AckOutcome(False, f"{person.name} is already working on {incident.label}.", incident)
    incident.assign_responders((person,), person, now)
    await change_within(uow, incident, deps, now, was_open=True, old_impact=incident.impact)
    if use_key and not await uow.activities.mark_processed(use_key, incident.id, now):
        raise ConcurrentUpdate(incident.number)
    await uow.commit()
    return AckOutcome(True, f"{person.name} answered the page and joined {incident.label} as a responder.", incident)
