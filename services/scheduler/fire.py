"""What happens when a status-update timer falls due: remind the owner, then, if they stay
silent through the grace period, post an automatic update and mention the commander."""

from __future__ import annotations

from datetime import datetime

from services.comms import notify, plan
from services.comms.plan import RESPONDERS
from services.config import BeaconConfig
from services.incidents import Incident, TimelineEvent
from services.scheduler import timers
from services.store.tables import TimerRow
from services.store.uow import UnitOfWork


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
    # A timer fired well after its due time was missed while Beacon was down: the update goes out
    # once, marked late, and the next one is scheduled from now, never a burst of catch-ups.
    late = now - timer.due_at > config.communications.late_after
    owner_name, owner_id = owner_of(incident, timer.kind, config)
    timeline = await uow.timeline(incident.id)
    text = plan.automatic_update_text(incident, timeline)
    if timer.phase == "due":
        await notify.reminder(uow, incident, timer.kind, owner_name, owner_id, timer.sequence, text, late,
                              now)
        await uow.record_event(incident.id, TimelineEvent(
            "update_reminder", now, None,
            f"{timer.kind} update {'overdue' if late else 'due'}: reminded {owner_name}",
            after={"audience": timer.kind, "sequence": timer.sequence, "late": late,
                   "due_at": timer.due_at.isoformat()}), incident.version)
        await uow.move_timer(timer, phase="grace", due_at=now + config.communications.grace,
                             sequence=timer.sequence)
        return
    late = late or any(e.kind == "update_reminder" and (e.after or {}).get("sequence") == timer.sequence
                       and (e.after or {}).get("audience") == timer.kind and (e.after or {}).get("late")
                       for e in timeline)  # the reminder for this update already went out late
    incident.note_missed_update(timer.kind, owner_name, now)
    incident.post_update(text, timer.kind, None, now, automatic=True, late=late)
    event = incident.pending_events[-1]
    sequence = timer.sequence
    due = now + timers.cadence(config, incident, timer.kind)
    await uow.move_timer(timer, phase="due", due_at=due, sequence=sequence + 1)
    if timer.kind == RESPONDERS:
        incident.next_update_due = due
    await uow.save_incident(incident)
    await notify.status_update(uow, incident, config, event, sequence, now)
    await notify.card_refresh(uow, incident, now, note="")
