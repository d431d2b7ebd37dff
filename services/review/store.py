"""Reading and writing the review's rows inside a caller's unit of work."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select

from services.effects.messages import SendEmail
from services.incidents import Incident, TimelineEvent
from services.review.report import (
    ActionLine,
    Answers,
    Communication,
    Report,
    build_report,
    recipients_of,
)
from services.review.tables import ActionItemRow, ReportRow, ReviewTimerRow
from services.store.tables import IncidentRow
from services.store.uow import UnitOfWork


async def report_row(uow: UnitOfWork, incident_id: int) -> ReportRow | None:
    return await uow.session.get(ReportRow, incident_id, populate_existing=True)


async def actions_of(uow: UnitOfWork, incident_id: int) -> list[ActionItemRow]:
    return list(await uow.session.scalars(
        select(ActionItemRow).where(ActionItemRow.incident_id == incident_id).order_by(ActionItemRow.id)))


async def open_actions(uow: UnitOfWork, limit: int = 30) -> list[ActionItemRow]:
    return list(await uow.session.scalars(
        select(ActionItemRow).where(ActionItemRow.status == "open")
        .order_by(ActionItemRow.due_at, ActionItemRow.id).limit(limit)))


async def set_timer(uow: UnitOfWork, key: str, kind: str, incident_id: int, due_at: datetime,
                    action_id: int | None = None) -> None:
    row = await uow.session.get(ReviewTimerRow, key)
    if row is None:
        uow.session.add(ReviewTimerRow(key=key, kind=kind, incident_id=incident_id, action_id=action_id,
                                       due_at=due_at))
    else:
        row.due_at = due_at


async def drop_timers(uow: UnitOfWork, *keys: str) -> None:
    await uow.session.execute(delete(ReviewTimerRow).where(ReviewTimerRow.key.in_(keys)))


async def claim_due_timer(uow: UnitOfWork, now: datetime) -> ReviewTimerRow | None:
    """The next due reminder, locked for this transaction (other replicas skip it)."""
    query = select(ReviewTimerRow).where(ReviewTimerRow.due_at <= now).order_by(ReviewTimerRow.due_at).limit(1)
    if uow.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return await uow.session.scalar(query)


async def next_due(uow: UnitOfWork) -> datetime | None:
    return await uow.session.scalar(select(func.min(ReviewTimerRow.due_at)))


async def config_version(uow: UnitOfWork, incident_id: int) -> str:
    return await uow.session.scalar(select(IncidentRow.config_version).where(IncidentRow.id == incident_id)) or ""


async def communications(uow: UnitOfWork, incident_id: int) -> list[Communication]:
    rows = await uow.outbox.of_incident(incident_id)
    return [Communication(r.kind, recipients_of(r.kind, r.payload), r.created_at, r.done_at, r.status,
                          str(r.payload.get("description", ""))) for r in rows]


async def update_recipients(uow: UnitOfWork, incident_id: int,
                            timeline: list[TimelineEvent]) -> list[tuple[str, str]]:
    """The stakeholders who received status updates by email (and the initial notification)."""
    found: dict[str, tuple[str, str]] = {}
    rows = await uow.outbox.of_incident(incident_id, SendEmail, key_like="%:update:%")
    for row in rows:
        for email, name in row.payload.get("to", []):
            found[str(email).lower()] = (str(email), str(name))
    notified = next((e for e in timeline if e.kind == "notified"), None)
    for email, name in ((notified.after or {}).get("routes", {}).get("stakeholder_emails", [])
                        if notified else []):
        found.setdefault(str(email).lower(), (str(email), str(name)))
    return list(found.values())


async def load_report(uow: UnitOfWork, incident: Incident, now: datetime) -> Report:
    assert incident.id is not None
    row = await report_row(uow, incident.id)
    answers = Answers(row.root_cause, row.lessons, row.impact_narrative, row.owner_name,
                      row.completed_at) if row else Answers()
    actions = [ActionLine(a.title, a.owner_name or a.owner_aad, a.due_at, a.status, a.completed_at)
               for a in await actions_of(uow, incident.id)]
    return build_report(incident, await uow.timeline(incident.id), answers, actions,
                        await communications(uow, incident.id),
                        config_version=await config_version(uow, incident.id), now=now)
