"""Prometheus metrics, read from the database at scrape time so every replica reports the same
durable truth (a failed delivery stays visible for the metrics' 90 days).

A scrape costs the same on day 300 as on day 1: each query reads an indexed range that stays
small by nature (effects in flight, open incidents, armed timers, open actions) or a window of
recent time, never the history. The outbox is never pruned, so its effects are counted by state:
those in flight (pending, sending) all, those that failed in the last 90 days, and those sent or
skipped in the last day (the throughput an operator watches; counting every post ever sent made a
scrape read them all)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Select, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.channels.metrics import families as channel_families
from services.incidents import OPEN_STATUSES
from services.paging.metrics import families as paging_families
from services.review.metrics import WINDOW
from services.review.metrics import families as review_families
from services.store.tables import UNFINISHED_STATUSES, IncidentRow, OutboxRow, TimerRow
from services.store.uow import UnitOfWork

SETTLED_WINDOW = timedelta(days=1)  # sent and skipped effects
OUTBOX_HELP = ("Outbox effects by kind and state: in flight now (pending, sending), failed in the last 90 days, "
               "sent or skipped in the last day (by when they were queued)")


class _Snapshot(Collector):
    def __init__(self, families: list[GaugeMetricFamily]):
        self._families = families

    def collect(self):  # type: ignore[no-untyped-def]
        yield from self._families


async def outbox_effects(session: AsyncSession, now: datetime) -> GaugeMetricFamily:
    """Three ranges of `ix_outbox_settled` (state, created_at, kind; migration 0031), one statement."""
    o = OutboxRow

    def counted(states: tuple[str, ...], since: datetime | None) -> Select[Any]:
        query = select(o.kind, o.status, func.count().label("effects")).where(o.status.in_(states))
        if since is not None:
            query = query.where(o.created_at >= since)
        return query.group_by(o.kind, o.status)

    family = GaugeMetricFamily("beacon_outbox_effects", OUTBOX_HELP, labels=["kind", "state"])
    for kind, state, count in sorted(await session.execute(union_all(
            counted(UNFINISHED_STATUSES, None), counted(("failed",), now - WINDOW),
            counted(("sent", "skipped"), now - SETTLED_WINDOW)))):
        family.add_metric([kind, state], count)
    return family


async def render(uow: UnitOfWork, now: datetime | None = None) -> bytes:
    session = uow.session
    now = now or datetime.now(UTC)
    outbox = await outbox_effects(session, now)
    incidents = GaugeMetricFamily("beacon_incidents_open", "Open incidents by priority", labels=["priority"])
    for priority, count in await session.execute(
            select(IncidentRow.priority, func.count())
            .where(IncidentRow.status.in_([s.value for s in OPEN_STATUSES])).group_by(IncidentRow.priority)):
        incidents.add_metric([priority], count)
    timers = GaugeMetricFamily("beacon_update_timers", "Armed status-update timers", labels=["kind", "phase"])
    for kind, phase, count in await session.execute(
            select(TimerRow.kind, TimerRow.phase, func.count()).group_by(TimerRow.kind, TimerRow.phase)):
        timers.add_metric([kind, phase], count)
    registry = CollectorRegistry()
    paging = await paging_families(session, now)  # both windowed: the last 90 days
    registry.register(_Snapshot([outbox, incidents, timers, *await review_families(session, now), *paging,
                                 *await channel_families(uow)]))
    return generate_latest(registry)
