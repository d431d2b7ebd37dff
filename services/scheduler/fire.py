"""What happens when a status-update timer falls due: remind the owner, then, if they stay
silent through the grace period, post an automatic update and mention the commander."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.comms import notify, plan
from services.comms.plan import RESPONDERS
from services.config import BeaconConfig
from services.incidents import Incident, TimelineEvent
from services.scheduler import timers
from services.store.tables import TimerRow
from services.store.uow import UnitOfWork

# A timer that fires this much after its due time was missed (Beacon was down): the update goes
# out once, marked late, and the next one is scheduled from now, never as a burst of catch-ups.
LATE_AFTER = timedelta(seconds=30)


def owner_of(incident: Incident, audience: str, config: BeaconConfig) -> tuple[str, str]:
    """Name and Teams id (for the @mention) of who owns this audience's updates."""
    if audience == RESPONDERS:
        person = plan.responder_owner(incident)
        return person.name or "the commander", person.user_id or person.aad_object_id
    entry, role = plan.stakeholder_owner(incident, config)
    if entry is None:
        return role, ""
    return entry.name, entry.aad_object_id


async def fire(uow: UnitOfWork, timer: TimerRow, config: BeaconConfig, now: datetime) -> None:
    incident = await uow.get_incident(timer.incident_id)
    if incident is None or not incident.is_open:
        await uow.session.delete(timer)
        return
    assert incident.id is not None
    late = now - timer.due_at > LATE_AFTER
    owner_name, owner_id = owner_of(incident, timer.kind, config)
    timeline = await uow.timeline(incident.id)
    text = plan.automatic_update_text(incident, timeline)
    if timer.phase == "due":
        await notify.reminder(uow, incident, timer.kind, owner_name, owner_id, timer.sequence, text, late,
                              now)
        await uow.record_event(incident.id, TimelineEvent(
            "update_reminder", now, None,
            f"{timer.kind} update {'overdue' if late else 'due'}: reminded {owner_name}",
            after={"audience": timer.kind, "sequence": timer.sequence, "late": late}), incident.version)
        timer.phase, timer.due_at = "grace", now + config.communications.grace
        return
    incident.note_missed_update(timer.kind, owner_name, now)
    incident.post_update(text, timer.kind, None, now, automatic=True, late=late)
    event = incident.pending_events[-1]
    sequence = timer.sequence
    await timers.arm(uow, incident, config, now, (timer.kind,), advance_sequence=True)
    await uow.save_incident(incident)
    await notify.status_update(uow, incident, config, event, sequence, now)
    await notify.card_refresh(uow, incident, now, note="")
