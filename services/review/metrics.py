"""Response metrics from durable state (drills excluded): time to acknowledge, mitigate and
resolve per priority, incidents per week, update punctuality and overdue actions.

They cover the incidents declared in the last `WINDOW`, read as SQL aggregates over indexed
columns (incidents by declaration time, their timelines by incident and kind): a scrape or
`@Beacon metrics` returns a few rows whatever the number of incidents Beacon has seen, and nothing
is loaded into Python row by row, so the event loop never waits on it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import ColumnElement, Select, Subquery, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.review.report import MITIGATED
from services.review.tables import ActionItemRow
from services.store.dialect import seconds_between, utc_day
from services.store.tables import IncidentRow, TimelineRow

WINDOW = timedelta(days=90)


@dataclass
class Metrics:
    # priority → (count, mean seconds) of each measure
    acknowledge: dict[str, tuple[int, float]] = field(default_factory=dict)
    mitigate: dict[str, tuple[int, float]] = field(default_factory=dict)
    resolve: dict[str, tuple[int, float]] = field(default_factory=dict)
    per_week: dict[str, int] = field(default_factory=dict)
    updates: dict[str, int] = field(default_factory=dict)  # on_time | late | automatic
    overdue_actions: int = 0
    open_actions: int = 0


async def _means(session: AsyncSession, query: Select[Any]) -> dict[str, tuple[int, float]]:
    # Rounded to the millisecond: SQLite measures with julianday(), a double.
    return {priority: (count, round(float(mean), 3)) for priority, count, mean in await session.execute(query)
            if count}


async def compute(session: AsyncSession, now: datetime) -> Metrics:
    since = now - WINDOW
    recent = and_(IncidentRow.drill.is_(False), IncidentRow.declared_at >= since)
    window = select(IncidentRow.id).where(recent).subquery()

    def mean_per_priority(at: ColumnElement[Any] | InstrumentedAttribute[Any]) -> Select[Any]:
        seconds = seconds_between(session, at, IncidentRow.declared_at)
        return (select(IncidentRow.priority, func.count(), func.avg(seconds))
                .where(recent).group_by(IncidentRow.priority))

    acknowledged = mean_per_priority(IncidentRow.acknowledged_at).where(IncidentRow.acknowledged_at.is_not(None))
    resolved = mean_per_priority(IncidentRow.resolved_at).where(IncidentRow.resolved_at.is_not(None))
    # Mitigations and updates come after their declaration: read from the timeline's (kind, at)
    # index within the window, never from the whole history.
    first_mitigated = (select(TimelineRow.incident_id, func.min(TimelineRow.at).label("at"))
                       .join(window, TimelineRow.incident_id == window.c.id)
                       .where(TimelineRow.kind.in_(["status_changed", "resolved"]), TimelineRow.at >= since,
                              TimelineRow.after["status"].as_string().in_(MITIGATED))
                       .group_by(TimelineRow.incident_id).subquery())
    mitigated = (mean_per_priority(first_mitigated.c.at)
                 .join(first_mitigated, first_mitigated.c.incident_id == IncidentRow.id))
    return Metrics(await _means(session, acknowledged), await _means(session, mitigated),
                   await _means(session, resolved), await _per_week(session, recent),
                   await _punctuality(session, window, since), *await _actions(session))


async def _per_week(session: AsyncSession, recent: ColumnElement[bool]) -> dict[str, int]:
    """Incidents per ISO week: counted per UTC day in SQL (at most WINDOW's days), folded here."""
    days = select(utc_day(session, IncidentRow.declared_at).label("day")).where(recent).subquery()
    weeks: dict[str, int] = defaultdict(int)
    for day, count in await session.execute(select(days.c.day, func.count()).group_by(days.c.day)):
        year, week, _ = date.fromisoformat(str(day)[:10]).isocalendar()
        weeks[f"{year}-W{week:02d}"] += count
    return dict(sorted(weeks.items()))


async def _punctuality(session: AsyncSession, window: Subquery, since: datetime) -> dict[str, int]:
    automatic = TimelineRow.after["automatic"].as_boolean().is_(True)
    late = and_(~automatic, TimelineRow.after["late"].as_boolean().is_(True))
    row = (await session.execute(
        select(func.count(), func.sum(case((automatic, 1), else_=0)), func.sum(case((late, 1), else_=0)))
        .select_from(TimelineRow).join(window, TimelineRow.incident_id == window.c.id)
        .where(TimelineRow.kind == "status_update", TimelineRow.at >= since))).one()
    total, automatic_count, late_count = (int(n or 0) for n in row)
    return {"on_time": total - automatic_count - late_count, "late": late_count, "automatic": automatic_count}


async def _actions(session: AsyncSession) -> tuple[int, int]:
    """Open follow-up actions, and those past their overdue reminder, of every incident (drills
    excluded): what is still owed does not age out of the window."""
    joined = select(func.count()).select_from(ActionItemRow).join(
        IncidentRow, IncidentRow.id == ActionItemRow.incident_id).where(
        IncidentRow.drill.is_(False), ActionItemRow.status == "open")
    return (await session.scalar(joined.where(ActionItemRow.overdue.is_(True))) or 0,
            await session.scalar(joined) or 0)


async def families(session: AsyncSession, now: datetime) -> list[GaugeMetricFamily]:
    m = await compute(session, now)
    out = []
    for name, data, what in (("acknowledge", m.acknowledge, "acknowledge"), ("mitigate", m.mitigate, "mitigate"),
                             ("resolve", m.resolve, "resolve")):
        family = GaugeMetricFamily(f"beacon_time_to_{name}_seconds",
                                   f"Mean time to {what} per priority, incidents of the last 90 days "
                                   "(drills excluded)", labels=["priority"])
        count = GaugeMetricFamily(f"beacon_time_to_{name}_incidents",
                                  f"Incidents of the last 90 days measured for time to {what}", labels=["priority"])
        for priority, (n, mean) in data.items():
            family.add_metric([priority], mean)
            count.add_metric([priority], n)
        out += [family, count]
    weekly = GaugeMetricFamily("beacon_incidents_per_week",
                               "Incidents declared per ISO week, last 90 days (drills excluded)", labels=["week"])
    for week, n in m.per_week.items():
        weekly.add_metric([week], n)
    punctuality = GaugeMetricFamily("beacon_status_updates",
                                    "Status updates by punctuality, incidents of the last 90 days",
                                    labels=["punctuality"])
    for key, n in m.updates.items():
        punctuality.add_metric([key], n)
    overdue = GaugeMetricFamily("beacon_actions_overdue", "Open follow-up actions past their overdue reminder")
    overdue.add_metric([], m.overdue_actions)
    open_actions = GaugeMetricFamily("beacon_actions_open", "Open follow-up actions")
    open_actions.add_metric([], m.open_actions)
    return [*out, weekly, punctuality, overdue, open_actions]
