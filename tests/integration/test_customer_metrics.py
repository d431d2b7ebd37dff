"""`@Beacon metrics` for customers in the loop: reports linked and time to the first public reply
per incident, aggregated by the database (three statements, whatever the number of incidents)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.clock import SystemClock
from services.deps import Deps
from services.incidents import TimelineEvent
from services.intake.links import CUSTOMER_ROLES
from services.intake.store import FIRST_REPLY
from services.intake.summary import customer_metric_rows
from services.intake.tables import ReportRow, TicketLinkRow
from services.store.db import create_engine, migrate, session_factory
from services.store.uow import UnitOfWork
from tests.integration.helpers import declare, payments_config, statements

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest_asyncio.fixture
async def sessions(database_url) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    await migrate(engine)
    yield session_factory(engine)
    await engine.dispose()


async def link(sessions: async_sessionmaker[AsyncSession], incident_id: int, ticket_id: int, role: str,
               received: datetime, replied: datetime | None = None) -> None:
    async with UnitOfWork(sessions) as uow:
        if role != "created":
            await uow.reported_issues.add(ReportRow(
                ticket_id=ticket_id, subject="Cannot pay", impact="low", urgency="medium", status=role,
                incident_id=incident_id, received_at=received))
        await uow.tickets.add(TicketLinkRow(incident_id=incident_id, ticket_id=ticket_id, url="", role=role,
                                            state="linked", error="", created_at=received))
        if replied is not None:  # as the reply's delivery records it
            await uow.timeline.record(incident_id, TimelineEvent(FIRST_REPLY, replied, None, "first reply"), 1)
        await uow.commit()


async def test_reports_linked_and_time_to_first_public_reply_per_incident(sessions):
    deps = Deps(uow=lambda: UnitOfWork(sessions), config=payments_config({}), clock=SystemClock())
    first, second = await declare(deps, "Checkout failing"), await declare(deps, "Search slow")
    await link(sessions, first, 101, "created", T0)  # Beacon's own ticket: not a customer's
    await link(sessions, first, 102, "reported", T0 + timedelta(minutes=1), replied=T0 + timedelta(minutes=9))
    await link(sessions, first, 103, "linked", T0 + timedelta(minutes=2), replied=T0 + timedelta(minutes=6))
    await link(sessions, first, 104, "merged", T0 + timedelta(minutes=3))
    await link(sessions, second, 201, "linked", T0 + timedelta(minutes=4))

    sent = statements(sessions, lambda sql: sql.lstrip().upper().startswith("SELECT"))
    async with UnitOfWork(sessions) as uow:
        metrics = await uow.tickets.customer_metrics(CUSTOMER_ROLES, most=10, now=T0 + timedelta(hours=1))
        latest_only = await uow.tickets.customer_metrics(CUSTOMER_ROLES, most=1, now=T0 + timedelta(hours=1))
    assert len(sent) == 6  # three aggregate statements per reading

    assert (metrics.reports, metrics.incidents) == (4, 2)
    assert [(m.incident_id, m.reports) for m in metrics.latest] == [(second, 1), (first, 3)]
    assert metrics.latest[1].time_to_first_reply == timedelta(minutes=5)  # first report 10:01, first reply 10:06
    assert metrics.latest[0].time_to_first_reply is None
    assert [m.incident_id for m in latest_only.latest] == [second]
    assert customer_metric_rows(metrics) == [
        ("Customer reports linked (90 days)", "4 to 2 incidents"),
        (f"INC-{second} customers", "1 report linked · no public reply yet"),
        (f"INC-{first} customers", "3 reports linked · first public reply after 5 min")]
