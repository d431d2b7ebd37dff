"""Prometheus metrics, read from the database at scrape time so every replica reports the same
durable truth (a failed delivery stays visible until someone looks)."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from services.channels.metrics import families as channel_families
from services.incidents import OPEN_STATUSES
from services.paging.metrics import families as paging_families
from services.review.metrics import families as review_families
from services.store.tables import IncidentRow, OutboxRow, TimerRow
from services.store.uow import UnitOfWork


class _Snapshot(Collector):
    def __init__(self, families: list[GaugeMetricFamily]):
        self._families = families

    def collect(self):  # type: ignore[no-untyped-def]
        yield from self._families


async def render(uow: UnitOfWork, now: datetime | None = None) -> bytes:
    session = uow.session
    outbox = GaugeMetricFamily("beacon_outbox_effects", "Outbox effects by kind and state",
                               labels=["kind", "state"])
    for kind, state, count in await session.execute(
            select(OutboxRow.kind, OutboxRow.status, func.count()).group_by(OutboxRow.kind, OutboxRow.status)):
        outbox.add_metric([kind, state], count)
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
    now = now or datetime.now(UTC)
    paging = await paging_families(session, now)  # both windowed: the last 90 days
    registry.register(_Snapshot([outbox, incidents, timers, *await review_families(session, now), *paging,
                                 *await channel_families(uow)]))
    return generate_latest(registry)
