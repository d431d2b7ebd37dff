"""Intake's rows inside the caller's unit of work: the incidents' Freshdesk ticket links
(`uow.tickets`) and the reported issues waiting for triage (`uow.reported_issues`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, func, select, update

from services.incidents import Person
from services.intake.tables import ReportRow, TicketLinkRow
from services.review.metrics import WINDOW
from services.store.incidents import not_a_drill
from services.store.tables import TimelineRow

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork


FIRST_REPLY = "customer_replied"  # the timeline entry of an incident's first public reply to a customer


@dataclass(frozen=True)
class IncidentCustomers:
    incident_id: int
    reports: int  # customers' tickets linked
    first_report_at: datetime | None
    first_reply_at: datetime | None  # Beacon's first public reply on any of them

    @property
    def time_to_first_reply(self) -> timedelta | None:
        if self.first_report_at is None or self.first_reply_at is None:
            return None
        return max(timedelta(0), self.first_reply_at - self.first_report_at)


@dataclass(frozen=True)
class CustomerMetrics:
    reports: int
    incidents: int
    latest: tuple[IncidentCustomers, ...]


def _utc(value: object) -> datetime | None:
    """An aggregate's timestamp: SQLite hands MIN() back as text, without the column's type."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# An incident's tickets, as its card shows them after every click (built once, bound per call).
_TICKETS_OF = (select(TicketLinkRow).where(TicketLinkRow.incident_id == bindparam("incident_id"))
               .order_by(TicketLinkRow.id))


class TicketLinks:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def get(self, link_id: int) -> TicketLinkRow | None:
        return await self._uow.session.get(TicketLinkRow, link_id)

    async def of(self, incident_id: int) -> list[TicketLinkRow]:
        return list(await self._uow.session.scalars(_TICKETS_OF, {"incident_id": incident_id}))

    async def live_of(self, incident_ids: list[int], states: tuple[str, ...]) -> list[TicketLinkRow]:
        """The links of these incidents in these states, with one query (a scheduler batch's)."""
        if not incident_ids:
            return []
        rows = await self._uow.session.scalars(select(TicketLinkRow).where(
            TicketLinkRow.incident_id.in_(incident_ids), TicketLinkRow.state.in_(states)).order_by(TicketLinkRow.id))
        return list(rows)

    async def add(self, link: TicketLinkRow) -> TicketLinkRow:
        """Store a link now (its id names the ticket's creation in the outbox)."""
        self._uow.session.add(link)
        await self._uow.session.flush()
        return link

    async def remove(self, ticket_id: int) -> None:
        """Forget a ticket's link (an unlinked report): it follows no incident any more."""
        await self._uow.session.execute(delete(TicketLinkRow).where(TicketLinkRow.ticket_id == ticket_id))

    async def customer_counts(self, incident_ids: list[int], roles: tuple[str, ...]) -> dict[int, int]:
        """How many customers' tickets each incident has (links in these roles), with one query."""
        if not incident_ids:
            return {}
        rows = await self._uow.session.execute(
            select(TicketLinkRow.incident_id, func.count()).where(
                TicketLinkRow.incident_id.in_(incident_ids), TicketLinkRow.role.in_(roles))
            .group_by(TicketLinkRow.incident_id))
        return {int(incident_id): int(count) for incident_id, count in rows}

    async def customer_metrics(self, roles: tuple[str, ...], most: int, now: datetime) -> CustomerMetrics:
        """Customers' reports linked to incidents (drills excluded) in the metrics' window
        (services.review.metrics.WINDOW) before `now` (Beacon's clock): in all, and for the `most` latest
        incidents that have any, how many, the first report's arrival and Beacon's first public
        reply (its `customer_replied` timeline entry). Aggregates in the database over an indexed
        range of links (`ix_ticket_links_window`, migration 0032), whatever the number of
        incidents and tickets Beacon has seen."""
        since = now - WINDOW
        # The window's customer links, from `ix_ticket_links_window` alone (migration 0032).
        links = (TicketLinkRow.created_at >= since, TicketLinkRow.role.in_(roles),
                 not_a_drill(TicketLinkRow.incident_id))
        totals = (await self._uow.session.execute(
            select(func.count(), func.count(func.distinct(TicketLinkRow.incident_id))).where(*links))).one()
        # The latest incidents first (from the same index), then their reports: the reports of the
        # whole window were joined and grouped to keep ten of them. Grouped by an expression no
        # index orders (incident_id + 0): grouped by the column itself, SQLite would walk every
        # link in ix_ticket_links_incident's order instead of the window.
        incident = (TicketLinkRow.incident_id + 0).label("incident")
        latest_ids = select(incident).where(*links).group_by(incident).order_by(incident.desc()).limit(most)
        latest = list(await self._uow.session.execute(
            select(TicketLinkRow.incident_id, func.count(), func.min(ReportRow.received_at))
            .outerjoin(ReportRow, ReportRow.ticket_id == TicketLinkRow.ticket_id)
            .where(TicketLinkRow.incident_id.in_(latest_ids.scalar_subquery()), *links)
            .group_by(TicketLinkRow.incident_id).order_by(TicketLinkRow.incident_id.desc())))
        replied: dict[int, datetime | None] = {}
        if latest:
            replied = {int(incident_id): _utc(at) for incident_id, at in await self._uow.session.execute(
                select(TimelineRow.incident_id, func.min(TimelineRow.at))
                .where(TimelineRow.incident_id.in_([row[0] for row in latest]), TimelineRow.kind == FIRST_REPLY)
                .group_by(TimelineRow.incident_id))}
        return CustomerMetrics(int(totals[0]), int(totals[1]), tuple(
            IncidentCustomers(int(incident_id), int(count), _utc(first_report), replied.get(int(incident_id)))
            for incident_id, count, first_report in latest))

    async def is_linked(self, ticket_id: int) -> bool:
        """Whether a Freshdesk ticket is already an incident's ticket."""
        return await self._uow.session.scalar(
            select(TicketLinkRow.id).where(TicketLinkRow.ticket_id == ticket_id).limit(1)) is not None


class ReportedIssues:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def get(self, ticket_id: int, *, fresh: bool = False) -> ReportRow | None:
        """The report of a ticket; `fresh` reads it again even if this session holds it."""
        return await self._uow.session.get(ReportRow, ticket_id, populate_existing=fresh)

    async def add(self, row: ReportRow) -> ReportRow:
        """Store a new report; a concurrent post of the same ticket raises IntegrityError here."""
        self._uow.session.add(row)
        await self._uow.session.flush()
        return row

    async def claim(self, ticket_id: int, status: str, actor: Person, now: datetime,
                    **values: Any) -> ReportRow | None:
        """Move the report from new to `status`; None when someone decided it first."""
        result = await self._uow.session.execute(
            update(ReportRow).where(ReportRow.ticket_id == ticket_id, ReportRow.status == "new")
            .values(status=status, decided_by=actor.to_dict(), decided_at=now, **values)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return await self.get(ticket_id, fresh=True)

    async def reopen(self, ticket_id: int, statuses: tuple[str, ...]) -> ReportRow | None:
        """Move a report decided as one of `statuses` back to new (Unlink); None when it was not."""
        result = await self._uow.session.execute(
            update(ReportRow).where(ReportRow.ticket_id == ticket_id, ReportRow.status.in_(statuses))
            .values(status="new", incident_id=None, decided_by=None, decided_at=None, reason="")
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return await self.get(ticket_id, fresh=True)
