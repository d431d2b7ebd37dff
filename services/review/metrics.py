"""Response metrics from durable state (drills excluded): time to acknowledge, mitigate and
resolve per priority, incidents per week, update punctuality and overdue actions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.review.report import MITIGATED
from services.review.tables import ActionItemRow
from services.store.tables import IncidentRow, TimelineRow


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


def _means(samples: dict[str, list[float]]) -> dict[str, tuple[int, float]]:
    return {p: (len(v), sum(v) / len(v)) for p, v in sorted(samples.items()) if v}


async def compute(session: AsyncSession) -> Metrics:
    incidents = list(await session.scalars(select(IncidentRow).where(IncidentRow.drill.is_(False))))
    ids = [i.id for i in incidents]
    first_mitigated: dict[int, datetime] = {}
    updates = {"on_time": 0, "late": 0, "automatic": 0}
    if ids:
        for row in await session.scalars(select(TimelineRow).where(
                TimelineRow.incident_id.in_(ids),
                TimelineRow.kind.in_(["status_changed", "resolved", "status_update"])).order_by(TimelineRow.id)):
            after = row.after or {}
            if row.kind == "status_update":
                key = "automatic" if after.get("automatic") else "late" if after.get("late") else "on_time"
                updates[key] += 1
            elif after.get("status") in MITIGATED:
                first_mitigated.setdefault(row.incident_id, row.at)
    ack: dict[str, list[float]] = defaultdict(list)
    mit: dict[str, list[float]] = defaultdict(list)
    res: dict[str, list[float]] = defaultdict(list)
    weeks: dict[str, int] = defaultdict(int)
    for i in incidents:
        year, week, _ = i.declared_at.isocalendar()
        weeks[f"{year}-W{week:02d}"] += 1
        if i.acknowledged_at:
            ack[i.priority].append((i.acknowledged_at - i.declared_at).total_seconds())
        if i.id in first_mitigated:
            mit[i.priority].append((first_mitigated[i.id] - i.declared_at).total_seconds())
        if i.resolved_at:
            res[i.priority].append((i.resolved_at - i.declared_at).total_seconds())
    joined = select(func.count()).select_from(ActionItemRow).join(
        IncidentRow, IncidentRow.id == ActionItemRow.incident_id).where(
        IncidentRow.drill.is_(False), ActionItemRow.status == "open")
    return Metrics(_means(ack), _means(mit), _means(res), dict(sorted(weeks.items())), updates,
                   await session.scalar(joined.where(ActionItemRow.overdue.is_(True))) or 0,
                   await session.scalar(joined) or 0)


async def families(session: AsyncSession) -> list[GaugeMetricFamily]:
    m = await compute(session)
    out = []
    for name, data, what in (("acknowledge", m.acknowledge, "acknowledge"), ("mitigate", m.mitigate, "mitigate"),
                             ("resolve", m.resolve, "resolve")):
        family = GaugeMetricFamily(f"beacon_time_to_{name}_seconds",
                                   f"Mean time to {what} per priority (drills excluded)", labels=["priority"])
        count = GaugeMetricFamily(f"beacon_time_to_{name}_incidents",
                                  f"Incidents measured for time to {what}", labels=["priority"])
        for priority, (n, mean) in data.items():
            family.add_metric([priority], mean)
            count.add_metric([priority], n)
        out += [family, count]
    weekly = GaugeMetricFamily("beacon_incidents_per_week", "Incidents declared per ISO week (drills excluded)",
                               labels=["week"])
    for week, n in m.per_week.items():
        weekly.add_metric([week], n)
    punctuality = GaugeMetricFamily("beacon_status_updates", "Status updates by punctuality", labels=["punctuality"])
    for key, n in m.updates.items():
        punctuality.add_metric([key], n)
    overdue = GaugeMetricFamily("beacon_actions_overdue", "Open follow-up actions past their overdue reminder")
    overdue.add_metric([], m.overdue_actions)
    open_actions = GaugeMetricFamily("beacon_actions_open", "Open follow-up actions")
    open_actions.add_metric([], m.open_actions)
    return [*out, weekly, punctuality, overdue, open_actions]
