"""What happens when status-update timers fall due: remind the owner, then, if they stay silent
through the grace period, post an automatic update and mention the commander.

Due timers fire in batches, one transaction each: the incidents, and only the timeline entries
their drafts summarise, are read with one query each; the batch's timer moves, incident saves,
timeline entries and outbox rows are written with a few statements at the end."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from services.comms import notify, plan
from services.comms.plan import RESPONDERS, STAKEHOLDERS
from services.config import BeaconConfig
from services.effects import OutboxEffect
from services.incidents import Incident, TimelineEvent
from services.intake.tickets import automatic_update_notes
from services.paging.directory import FeedShifts, no_feeds
from services.paging.escalation import ESCALATION
from services.paging.shifts import Override
from services.paging.usecases import fire_escalation
from services.scheduler import timers
from services.store.tables import TimerRow
from services.store.uow import UnitOfWork

# The link to the status page of an incident's client (services.deps.Deps.status_url), for the
# emails an automatic stakeholder update sends to the client's people.
StatusUrl = Callable[[UnitOfWork, Incident, datetime], Awaitable[str]]


async def no_status_url(uow: UnitOfWork, incident: Incident, now: datetime) -> str:
    return ""


def owner_of(incident: Incident, audience: str, config: BeaconConfig) -> tuple[str, str]:
    """Name and Teams id (for the @mention) of who owns this audience's updates."""
    if audience == RESPONDERS:
        person = plan.responder_owner(incident)
        return person.name or "the commander", person.user_id or person.aad_object_id
    entry, role = plan.stakeholder_owner(incident, config)
    if entry is None:
        return role, ""
    return entry.name, entry.aad_object_id


@dataclass
class Batch:
    """What a batch of firings writes, collected while firing and written together."""

    config: BeaconConfig
    now: datetime
    moves: list[tuple[TimerRow, str, datetime, int]] = field(default_factory=list)
    dropped: list[TimerRow] = field(default_factory=list)
    saves: list[tuple[Incident, Incident]] = field(default_factory=list)
    updates: list[tuple[Incident, TimelineEvent, int]] = field(default_factory=list)
    events: list[tuple[int, int, TimelineEvent]] = field(default_factory=list)
    posts: list[OutboxEffect] = field(default_factory=list)
    next_due: dict[tuple[int, str], datetime] = field(default_factory=dict)  # (incident, audience) → armed due
    feeds: FeedShifts = no_feeds  # schedules' iCalendar shifts, for escalation steps
    status_url: StatusUrl = no_status_url

    async def write(self, uow: UnitOfWork) -> None:
        await uow.timers.move(self.moves)
        for timer in self.dropped:
            await uow.timers.drop(timer)
        await uow.incidents.save_many(self.saves)
        for incident, event, sequence in self.updates:  # the card shows the version just saved
            told = (event.after or {}).get("audience") == STAKEHOLDERS
            url = await self.status_url(uow, incident, self.now) if told else ""
            due = self.next_due.get((incident.id or 0, str((event.after or {}).get("audience", ""))))
            self.posts += notify.status_update_posts(incident, self.config, event, sequence, url, due)
            self.posts += notify.card_refresh_posts(incident, note="")
        self.posts += await automatic_update_notes(uow, self.updates)  # on the incidents' Freshdesk tickets
        await uow.timeline.record_many(self.events)
        await uow.outbox.add_many(self.posts, now=self.now)


async def fire_due(uow: UnitOfWork, due: list[TimerRow], config: BeaconConfig, now: datetime,
                   feeds: FeedShifts = no_feeds, status_url: StatusUrl = no_status_url) -> int:
    """Fire claimed timers in the caller's transaction; returns how many fired. A second timer of
    an incident waits for the next batch, so it sees what the first one changed."""
    firing: dict[int, TimerRow] = {}
    for timer in due:
        firing.setdefault(timer.incident_id, timer)
    incidents = await uow.incidents.many(list(firing), lock=True)
    updates = [t.incident_id for t in firing.values() if t.kind == RESPONDERS]
    drafts = await uow.timeline.changes_since_last_update(
        updates, leave_out=plan.QUIET_KINDS | {"status_update"}, limit=plan.CHANGES_SHOWN,
        audience=RESPONDERS) if updates else {}
    told = [t.incident_id for t in firing.values() if t.kind == STAKEHOLDERS]  # never the team's own notes
    public = await uow.timeline.changes_since_last_update(
        told, leave_out=plan.QUIET_KINDS | {"status_update"} | plan.INTERNAL_KINDS,
        limit=plan.CHANGES_SHOWN, audience=STAKEHOLDERS) if told else {}
    reminded = await reminders(uow, [t for t in firing.values() if t.phase != "due" and t.kind != ESCALATION])
    escalating = any(t.kind == ESCALATION for t in firing.values())
    overrides: list[Override] = await uow.oncall_overrides.active(now) if escalating else []
    batch = Batch(config, now, feeds=feeds, status_url=status_url)
    for incident_id, timer in firing.items():
        if timer.kind == ESCALATION:
            fire_escalation(batch, timer, incidents.get(incident_id), overrides)
            continue
        fire(batch, timer, incidents.get(incident_id), (public if timer.kind == STAKEHOLDERS else drafts).get(
            incident_id, []),
             reminded.get((incident_id, timer.kind, timer.sequence)))
    await batch.write(uow)
    return len(firing)


@dataclass(frozen=True)
class Reminded:
    """The reminder of an update whose grace period is ending: when the update fell due, and
    whether the reminder already went out late."""

    due_at: datetime | None
    late: bool


async def reminders(uow: UnitOfWork, graced: list[TimerRow]) -> dict[tuple[int, str, int], Reminded]:
    """(incident, audience, sequence) → the reminder sent for that update, among these timers."""
    if not graced:
        return {}
    wanted = {(t.incident_id, t.kind, t.sequence) for t in graced}
    found = await uow.timeline.sequenced("update_reminder", {t.incident_id for t in graced},
                                         {t.sequence for t in graced})
    return {key: Reminded(_time(after.get("due_at")), bool(after.get("late"))) for incident_id, after in found
            if (key := (incident_id, after.get("audience"), after.get("sequence"))) in wanted}


def _time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def fire(batch: Batch, timer: TimerRow, incident: Incident | None, draft: list[TimelineEvent],
         reminded: Reminded | None = None) -> None:
    """One due timer: `draft` is what changed since the incident's last update."""
    config, now = batch.config, batch.now
    if incident is None or not incident.is_open:
        batch.dropped.append(timer)
        return
    assert incident.id is not None
    # A timer fired well after its due time was missed while Beacon was down: the update goes out
    # once, marked late, and the next one falls at the first due time after now, never a burst.
    late = now - timer.due_at > config.communications.late_after
    owner_name, owner_id = owner_of(incident, timer.kind, config)
    text = plan.automatic_update_text(incident, draft, timer.kind)
    if timer.phase == "due":
        batch.posts.append(notify.reminder_post(incident, timer.kind, owner_name, owner_id, timer.sequence, text,
                                                late, due_at=timer.due_at, posts_at=now + config.communications.grace))
        batch.events.append((incident.id, incident.version, TimelineEvent(
            "update_reminder", now, None,
            f"{timer.kind} update {'overdue' if late else 'due'}: reminded {owner_name}",
            after={"audience": timer.kind, "sequence": timer.sequence, "late": late,
                   "due_at": timer.due_at.isoformat()})))
        batch.moves.append((timer, "grace", now + config.communications.grace, timer.sequence))
        return
    read = incident.copy()
    incident.note_missed_update(timer.kind, owner_name, now)
    incident.post_update(text, timer.kind, None, now, automatic=True, late=late or bool(reminded and reminded.late))
    # The schedule keeps to the times updates fall due (1:00, 2:00, 3:00 for PT1H), not to when a
    # miss was noticed: anchored to the due time this update stood for, else each cycle would
    # drift by the grace period.
    fell_due = reminded.due_at if reminded and reminded.due_at else timer.due_at - config.communications.grace
    due = timers.next_anchored(fell_due, timers.cadence(config, incident, timer.kind), now)
    batch.moves.append((timer, "due", due, timer.sequence + 1))
    batch.next_due[(incident.id, timer.kind)] = due  # what the update says of the next one
    if timer.kind == RESPONDERS:
        incident.next_update_due = due
    batch.saves.append((read, incident))
    batch.updates.append((incident, incident.pending_events[-1], timer.sequence))
