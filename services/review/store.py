"""The review's rows inside the caller's unit of work (`uow.reviews`): reports, follow-up
actions and their reminders; and the report as read from them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update

from services.effects.messages import SendEmail
from services.incidents import Incident, Status, TimelineEvent
from services.review.metrics import Metrics, compact_fact_days, compute
from services.review.report import (
    ActionLine,
    Answers,
    Communication,
    Report,
    build_report,
    recipients_of,
)
from services.review.tables import ActionItemRow, ClientSummaryRow, ReportRow, ReviewTimerRow
from services.store.dialect import lock_rows
from services.store.tables import IncidentRow

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork


class ReviewStore:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def report(self, incident_id: int) -> ReportRow | None:
        return await self._uow.session.get(ReportRow, incident_id, populate_existing=True)

    async def add_report(self, row: ReportRow) -> None:
        """Store a report now: a second one for the incident (another replica) fails here."""
        self._uow.session.add(row)
        await self._uow.session.flush()

    async def drills_without_report(self) -> list[int]:
        """Resolved or closed drills that have no drill report yet."""
        return list(await self._uow.session.scalars(
            select(IncidentRow.id).where(IncidentRow.drill.is_(True),
                                         IncidentRow.status.in_([Status.RESOLVED.value, Status.CLOSED.value]),
                                         ~IncidentRow.id.in_(select(ReportRow.incident_id)))))

    async def action(self, action_id: int) -> ActionItemRow | None:
        return await self._uow.session.get(ActionItemRow, action_id, populate_existing=True)

    async def add_action(self, item: ActionItemRow) -> ActionItemRow:
        self._uow.session.add(item)
        await self._uow.session.flush()  # its id keys its reminders
        return item

    async def actions_of(self, incident_id: int) -> list[ActionItemRow]:
        return list(await self._uow.session.scalars(
            select(ActionItemRow).where(ActionItemRow.incident_id == incident_id).order_by(ActionItemRow.id)))

    async def open_actions(self, limit: int = 30) -> list[ActionItemRow]:
        return list(await self._uow.session.scalars(
            select(ActionItemRow).where(ActionItemRow.status == "open")
            .order_by(ActionItemRow.due_at, ActionItemRow.id).limit(limit)))

    async def set_timer(self, key: str, kind: str, incident_id: int, due_at: datetime,
                        action_id: int | None = None) -> None:
        row = await self._uow.session.get(ReviewTimerRow, key)
        if row is None:
            self._uow.session.add(ReviewTimerRow(key=key, kind=kind, incident_id=incident_id, action_id=action_id,
                                                 due_at=due_at))
        else:
            row.due_at = due_at

    async def drop_timers(self, *keys: str) -> None:
        await self._uow.session.execute(delete(ReviewTimerRow).where(ReviewTimerRow.key.in_(keys)))

    async def drop_timer(self, timer: ReviewTimerRow) -> None:
        await self._uow.session.delete(timer)

    async def claim_due_timer(self, now: datetime) -> ReviewTimerRow | None:
        """The next due reminder, locked for this transaction (other replicas skip it)."""
        query = select(ReviewTimerRow).where(ReviewTimerRow.due_at <= now).order_by(ReviewTimerRow.due_at).limit(1)
        return await self._uow.session.scalar(lock_rows(query, self._uow.session, skip_locked=True))

    async def next_due(self) -> datetime | None:
        return await self._uow.session.scalar(select(func.min(ReviewTimerRow.due_at)))

    async def metrics(self, now: datetime) -> Metrics:
        """Response metrics over the incidents of the last 90 days (services.review.metrics)."""
        return await compute(self._uow.session, now)

    async def compact_metric_sums(self) -> int:
        """Merge the response metrics' sums of database writers that are gone (PostgreSQL;
        services.review.metrics.compact_fact_days); commit to keep it."""
        return await compact_fact_days(self._uow.session)

    async def communications(self, incident_id: int) -> list[Communication]:
        rows = await self._uow.outbox.of_incident(incident_id)
        return [Communication(r.kind, recipients_of(r.kind, r.payload), r.created_at, r.done_at, r.status,
                              str(r.payload.get("description", "")), r.last_error) for r in rows]

    async def client_summary(self, incident_id: int) -> ClientSummaryRow | None:
        return await self._uow.session.get(ClientSummaryRow, incident_id, populate_existing=True)

    async def add_client_summary(self, row: ClientSummaryRow) -> None:
        self._uow.session.add(row)
        await self._uow.session.flush()

    async def claim_client_summary(self, incident_id: int, revision: int, values: dict[str, Any]) -> bool:
        """Change the summary only while it is unsent and still at `revision` (one statement, so
        of two approvals or edits at once exactly one wins, on either database)."""
        done = await self._uow.session.execute(
            update(ClientSummaryRow).where(ClientSummaryRow.incident_id == incident_id,
                                           ClientSummaryRow.revision == revision,
                                           ClientSummaryRow.approved_at.is_(None)).values(**values)
            .execution_options(synchronize_session=False))
        return bool(getattr(done, "rowcount", 0) == 1)

    async def update_recipients(self, incident_id: int, timeline: list[TimelineEvent]) -> list[tuple[str, str]]:
        """The stakeholders who received status updates by email (and the initial notification)."""
        found: dict[str, tuple[str, str]] = {}
        for row in await self._uow.outbox.of_incident(incident_id, SendEmail, key_like="%:update:%"):
            for email, name in row.payload.get("to", []):
                found[str(email).lower()] = (str(email), str(name))
        notified = next((e for e in timeline if e.kind == "notified"), None)
        for email, name in ((notified.after or {}).get("routes", {}).get("stakeholder_emails", [])
                            if notified else []):
            found.setdefault(str(email).lower(), (str(email), str(name)))
        return list(found.values())


async def load_report(uow: UnitOfWork, incident: Incident, now: datetime) -> Report:
    assert incident.id is not None
    row = await uow.reviews.report(incident.id)
    answers = Answers(row.root_cause, row.lessons, row.impact_narrative, row.owner_name,
                      row.completed_at) if row else Answers()
    actions = [ActionLine(a.title, a.owner_name or a.owner_aad, a.due_at, a.status, a.completed_at)
               for a in await uow.reviews.actions_of(incident.id)]
    return build_report(incident, await uow.timeline.of(incident.id), answers, actions,
                        await uow.reviews.communications(incident.id), now=now)
