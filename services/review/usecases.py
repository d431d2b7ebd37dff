"""Use cases of the report: request it on resolve, take the owner's answers, close the incident
once the review is held and the report complete. Each writes its rows, timeline entries and
outbox effects in one transaction."""

from __future__ import annotations

import html
from datetime import datetime
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
)
from services.lifecycle import IncidentAction, act_on_incident
from services.policy import BEACON
from services.review.client_flow import draft_for_clients
from services.review.client_summary import internal_addresses
from services.review.effects import ReviewThreadCard
from services.review.form import ReportDraft, check
from services.review.settings import ReviewSettings
from services.review.tables import ActionItemRow, ReportRow
from services.store.uow import UnitOfWork
from services.verbs import Verb


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


def _names(config: BeaconConfig) -> dict[str, str]:
    return {m.aad_object_id: m.name for t in config.directory.teams for m in t.members if m.aad_object_id}


async def submit_report(deps: Deps, settings: ReviewSettings, incident_id: int, data: dict[str, Any],
                        actor: Person, activity_id: str = "") -> tuple[Incident, bool]:
    """Store the owner's answers and follow-up actions; (incident, applied). A form with fields
    that need attention raises ReportIncomplete and stores nothing."""
    now = deps.clock.now()
    answers = check(ReportDraft.from_values(data), now.date())
    known = _names(deps.config)
    async with deps.uow() as uow:
        incident, row = await _incident_and_report(uow, incident_id)
        if row.completed_at is not None or (activity_id and not await uow.activities.mark_processed(
                activity_id, incident_id, now)):
            return incident, False
        names = await uow.people.named([a.owner for a in answers.actions if a.owner not in known])
        row.root_cause, row.lessons, row.impact_narrative = answers.root_cause, answers.lessons, answers.impact
        row.completed_at, row.completed_by = now, actor.to_dict()
        for action in answers.actions:
            owner_name = known.get(action.owner) or (names[action.owner].name if action.owner in names else "")
            item = ActionItemRow(incident_id=incident_id, title=action.title, owner_aad=action.owner,
                                 status="open", owner_name=owner_name, due_at=action.due_at, overdue=False,
                                 created_at=now)
            await uow.reviews.add_action(item)
            await uow.reviews.set_timer(f"action:{item.id}:due", "action_due", incident_id, action.due_at, item.id)
            await uow.reviews.set_timer(f"action:{item.id}:overdue", "action_overdue", incident_id,
                                        action.due_at + settings.action_overdue_after, item.id)
        await uow.reviews.drop_timers(f"report:{incident_id}")
        summary = f"{actor.name} completed the post-incident report ({len(answers.actions)} follow-up actions)"
        link = settings.links.url(incident_id, now)
        after = {"root_cause": answers.root_cause, "link": link}
        await record(uow, incident, "report_completed", actor, summary, now, after=after)
        await _publish(uow, incident, deps.config, settings, now)
        await draft_for_clients(uow, incident, row, await _client_recipients(uow, incident, deps.config),
                                [a.title for a in answers.actions], now)
        completed = TimelineEvent("report_completed", now, actor, summary, after=after)
        for observer in deps.observers if not incident.drill else ():  # e.g. a note on the ticket
            await observer.on_changed(uow, incident, [completed], now)
        await uow.commit()
    await maybe_close(deps, incident_id)
    return incident, True


async def _incident_and_report(uow: UnitOfWork, incident_id: int) -> tuple[Incident, ReportRow]:
    incident = await uow.incidents.get(incident_id)
    if incident is None:
        raise IncidentNotFound(f"INC-{incident_id} does not exist")
    row = await uow.reviews.report(incident_id)
    if row is None or row.kind != "full":
        raise DomainError(f"{incident.label} has no report to complete: it is not resolved yet")
    return incident, row


async def _recipients(uow: UnitOfWork, incident: Incident, config: BeaconConfig) -> tuple[list[tuple[str, str]],
                                                                                           list[tuple[str, str]]]:
    """Who got the status updates by email: (the organisation's own people, everyone else)."""
    assert incident.id is not None
    if incident.drill:
        return [], []
    internal = internal_addresses(config)
    everyone = await uow.reviews.update_recipients(incident.id, await uow.timeline.of(incident.id))
    return ([r for r in everyone if r[0].lower() in internal], [r for r in everyone if r[0].lower() not in internal])


async def _client_recipients(uow: UnitOfWork, incident: Incident, config: BeaconConfig) -> list[tuple[str, str]]:
    return (await _recipients(uow, incident, config))[1]


async def _publish(uow: UnitOfWork, incident: Incident, config: BeaconConfig, settings: ReviewSettings,
                   now: datetime) -> None:
    """The summary card in the thread, and the report by email to the organisation's people who got
    the status updates. The client's contacts get the summary their owner approves instead."""
    assert incident.id is not None
    link = settings.links.url(incident.id, now)
    await thread_card(uow, incident, "summary", {"card": "report_summary", "link": link}, now)
    if incident.drill:
        return
    subject = f"[{incident.number}] Post-incident report: {incident.title}"[:200]
    page = (f"<p>The post-incident report for {html.escape(incident.number)} "
            f"({html.escape(incident.title)}) is complete.</p><p><a href='{html.escape(link)}'>Read the "
            f"report</a> (the link expires in {settings.links.ttl.days} days).</p>")
    text = (f"The post-incident report for {incident.number} ({incident.title}) is complete.\n\n"
            f"Read the report: {link}\n(The link expires in {settings.links.ttl.days} days.)")
    for email, name in (await _recipients(uow, incident, config))[0]:
        await uow.outbox.add(SendEmail(incident.id, "report", email, name, subject, page, text,
                                       f"report email to {email}"), now=now)


async def review_held(deps: Deps, incident_id: int, actor: Person) -> Incident:
    now = deps.clock.now()
    async with deps.uow() as uow:
        incident, row = await _incident_and_report(uow, incident_id)
        if row.review_held_at is None:
            row.review_held_at = now
            await record(uow, incident, "review_held", actor, f"{actor.name} recorded the review as held", now)
            await uow.commit()
    await maybe_close(deps, incident_id)
    return incident


async def maybe_close(deps: Deps, incident_id: int) -> None:
    """Closed once the review is held and the report complete (open actions stay tracked). Beacon
    closes it, whoever made the last of the two happen: no one's rights can refuse it."""
    async with deps.uow() as uow:
        row = await uow.reviews.report(incident_id)
        incident = await uow.incidents.get(incident_id)
    if (row and incident and row.completed_at and row.review_held_at
            and incident.status is Status.RESOLVED):
        await act_on_incident(IncidentAction(Verb.CLOSE, incident_id, None, {}, BEACON), deps)
