"""Use cases of the report: request it on resolve, take the owner's answers, close the incident
once the review is held and the report complete. Each writes its rows, timeline entries and
outbox effects in one transaction."""

from __future__ import annotations

import html
from datetime import UTC, datetime, time
from typing import Any

from services.comms.plan import stakeholder_owner
from services.config import BeaconConfig
from services.deps import Deps
from services.effects.messages import SendEmail
from services.incidents import (
    DomainError,
    Incident,
    IncidentNotFound,
    Person,
    Status,
    TimelineEvent,
    ValidationFailed,
)
from services.incidents.model import MAX_TEXT, clean_text
from services.lifecycle import IncidentAction, act_on_incident
from services.review.effects import ReviewThreadCard
from services.review.settings import ReviewSettings
from services.review.tables import ActionItemRow, ReportRow
from services.store.uow import UnitOfWork
from services.verbs import Verb

MAX_ACTIONS = 5


async def thread_card(uow: UnitOfWork, incident: Incident, key: str, payload: dict[str, Any],
                      now: datetime) -> None:
    """A review card as a reply in the incident thread, after the incident's other posts."""
    assert incident.id is not None
    details = {name: value for name, value in payload.items() if name != "card"}
    await uow.outbox.add(ReviewThreadCard(incident.id, str(payload["card"]), key, details), now=now)


async def record(uow: UnitOfWork, incident: Incident, kind: str, actor: Person | None, summary: str,
                 now: datetime, after: dict[str, Any] | None = None) -> None:
    assert incident.id is not None
    await uow.timeline.record(incident.id, TimelineEvent(kind, now, actor, summary, after=after), incident.version)


class ReportObserver:
    """On resolve, ask the report owner for the report (drills never reach observers)."""

    def __init__(self, config: BeaconConfig, settings: ReviewSettings):
        self._config, self._settings = config, settings

    async def on_declared(self, uow: UnitOfWork, incident: Incident, now: datetime) -> None:
        return None

    async def on_changed(self, uow: UnitOfWork, incident: Incident, events: list[TimelineEvent],
                         now: datetime) -> None:
        if any(e.kind == "resolved" for e in events) and incident.status is Status.RESOLVED:
            await request_report(uow, incident, self._config, self._settings, now)


async def request_report(uow: UnitOfWork, incident: Incident, config: BeaconConfig,
                         settings: ReviewSettings, now: datetime) -> None:
    assert incident.id is not None
    if await uow.reviews.report(incident.id) is not None:
        return  # resolved again after a reopen: the first request still stands
    owner, role = stakeholder_owner(incident, config)
    row = ReportRow(incident_id=incident.id, kind="full", owner_name=owner.name if owner else role,
                    owner_role=role, owner_email=owner.email if owner else "",
                    owner_aad=owner.aad_object_id if owner else "", requested_at=now, reminders=0,
                    root_cause="", lessons="", impact_narrative="")
    await uow.reviews.add_report(row)
    await uow.reviews.set_timer(f"report:{incident.id}", "report", incident.id,
                          now + settings.report_reminder_every)
    await thread_card(uow, incident, "request", {"card": "report_request", "owner_name": row.owner_name,
                                                 "owner_id": row.owner_aad, "role": role}, now)
    await record(uow, incident, "report_requested", None,
                 f"post-incident report requested from {row.owner_name} ({role})", now)


def _due_date(value: object, field: str) -> datetime:
    try:
        day = datetime.strptime(str(value or "").strip()[:10], "%Y-%m-%d").date()
    except ValueError:
        raise ValidationFailed(field, "the due date must be a date such as 2026-02-01") from None
    return datetime.combine(day, time(9, 0), tzinfo=UTC)


def parse_actions(data: dict[str, Any], config: BeaconConfig) -> list[tuple[str, str, str, datetime]]:
    """(title, owner AAD id, owner name, due) for each filled action row of the report card."""
    names = {m.aad_object_id: m.name for t in config.directory.teams for m in t.members if m.aad_object_id}
    actions = []
    for index in range(1, MAX_ACTIONS + 1):
        title = clean_text(data.get(f"action{index}_title"), f"action {index}", limit=300)
        if not title:
            continue
        owner = clean_text(data.get(f"action{index}_owner"), f"action {index} owner", limit=100)
        if not owner:
            raise ValidationFailed(f"action{index}_owner", f"action {index} needs an owner")
        actions.append((title, owner, names.get(owner, ""), _due_date(data.get(f"action{index}_due"),
                                                                        f"action{index}_due")))
    return actions


async def submit_report(deps: Deps, settings: ReviewSettings, incident_id: int, data: dict[str, Any],
                        actor: Person, activity_id: str = "") -> tuple[Incident, bool]:
    """Store the owner's answers and follow-up actions; (incident, applied)."""
    root_cause = clean_text(data.get("root_cause"), "root cause", limit=MAX_TEXT, required=True)
    lessons = clean_text(data.get("lessons"), "lessons learned", limit=MAX_TEXT, required=True)
    narrative = clean_text(data.get("impact"), "impact narrative", limit=MAX_TEXT)
    actions = parse_actions(data, deps.config)
    now = deps.clock.now()
    async with deps.uow() as uow:
        incident, row = await _incident_and_report(uow, incident_id)
        if row.completed_at is not None or (activity_id and not await uow.activities.mark_processed(
                activity_id, incident_id, now)):
            return incident, False
        names = await uow.people.named([a[1] for a in actions if not a[2]])
        row.root_cause, row.lessons, row.impact_narrative = root_cause, lessons, narrative
        row.completed_at, row.completed_by = now, actor.to_dict()
        for title, owner, name, due in actions:
            item = ActionItemRow(incident_id=incident_id, title=title, owner_aad=owner, status="open",
                                 owner_name=name or (names[owner].name if owner in names else ""),
                                 due_at=due, overdue=False, created_at=now)
            await uow.reviews.add_action(item)
            await uow.reviews.set_timer(f"action:{item.id}:due", "action_due", incident_id, due, item.id)
            await uow.reviews.set_timer(f"action:{item.id}:overdue", "action_overdue", incident_id,
                                  due + settings.action_overdue_after, item.id)
        await uow.reviews.drop_timers(f"report:{incident_id}")
        summary = f"{actor.name} completed the post-incident report ({len(actions)} follow-up actions)"
        link = settings.links.url(incident_id, now)
        await record(uow, incident, "report_completed", actor, summary, now,
                     after={"root_cause": root_cause, "link": link})
        await _publish(uow, incident, settings, now)
        completed = TimelineEvent("report_completed", now, actor, summary,
                                  after={"root_cause": root_cause, "link": link})
        for observer in deps.observers if not incident.drill else ():  # e.g. a note on the ticket
            await observer.on_changed(uow, incident, [completed], now)
        await uow.commit()
    await maybe_close(deps, incident_id, actor)
    return incident, True


async def _incident_and_report(uow: UnitOfWork, incident_id: int) -> tuple[Incident, ReportRow]:
    incident = await uow.incidents.get(incident_id)
    if incident is None:
        raise IncidentNotFound(f"INC-{incident_id} does not exist")
    row = await uow.reviews.report(incident_id)
    if row is None or row.kind != "full":
        raise DomainError(f"{incident.label} has no report to complete: it is not resolved yet")
    return incident, row


async def _publish(uow: UnitOfWork, incident: Incident, settings: ReviewSettings, now: datetime) -> None:
    """The summary card in the thread, and the report by email to who got the status updates."""
    assert incident.id is not None
    link = settings.links.url(incident.id, now)
    await thread_card(uow, incident, "summary", {"card": "report_summary", "link": link}, now)
    if incident.drill:
        return
    subject = f"[{incident.number}] Post-incident report: {incident.title}"[:200]
    page = (f"<p>The post-incident report for {html.escape(incident.number)} "
            f"({html.escape(incident.title)}) is complete.</p><p><a href='{html.escape(link)}'>Read the "
            f"report</a> (the link expires in {settings.links.ttl.days} days).</p>")
    for email, name in await uow.reviews.update_recipients(incident.id, await uow.timeline.of(incident.id)):
        await uow.outbox.add(SendEmail(incident.id, "report", email, name, subject, page,
                                       f"The post-incident report: {link}", f"report email to {email}"), now=now)


async def review_held(deps: Deps, incident_id: int, actor: Person) -> Incident:
    now = deps.clock.now()
    async with deps.uow() as uow:
        incident, row = await _incident_and_report(uow, incident_id)
        if row.review_held_at is None:
            row.review_held_at = now
            await record(uow, incident, "review_held", actor, f"{actor.name} recorded the review as held", now)
            await uow.commit()
    await maybe_close(deps, incident_id, actor)
    return incident


async def maybe_close(deps: Deps, incident_id: int, actor: Person) -> None:
    """Closed once the review is held and the report complete (open actions stay tracked)."""
    async with deps.uow() as uow:
        row = await uow.reviews.report(incident_id)
        incident = await uow.incidents.get(incident_id)
    if (row and incident and row.completed_at and row.review_held_at
            and incident.status is Status.RESOLVED):
        await act_on_incident(IncidentAction(Verb.CLOSE, incident_id, None, {}, actor), deps)
