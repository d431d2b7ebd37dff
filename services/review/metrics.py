"""Response metrics from durable state (drills excluded): time to acknowledge, mitigate and
resolve per priority, incidents per week, update punctuality and overdue actions.

They cover the incidents declared in the last `WINDOW`, read from the incident facts the database keeps
in the transaction of each change (IncidentFactRow, summed per day, priority and writer in
IncidentFactDayRow): a scrape adds up 90 days of sums per priority and reads the facts of one
partial day, never a timeline, whatever the number of incidents Beacon has seen. On PostgreSQL
each server process that ever wrote a day's sums leaves its own row there; `compact_fact_days`
(run hourly by the review worker) merges the rows of processes that are gone, so restarts and
reconnections do not add rows for ever."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.paging.metrics import ACK_DAY_KEY, ACK_DAY_SUMS
from services.review.tables import ActionItemRow
from services.store.dialect import is_postgresql, seconds_between, try_advisory_lock, utc_day
from services.store.tables import IncidentFactDayRow, IncidentFactRow, IncidentRow

WINDOW = timedelta(days=90)
MEASURES = 3  # time to acknowledge, mitigate, resolve
# The slot the sums of PostgreSQL writers that are gone are merged into: no server process has
# pid 0, so no trigger ever writes it, and only the compaction does (one at a time).
COMPACTED_SLOT = 0
DAY_SUMS = tuple(c.name for c in IncidentFactDayRow.__table__.columns if c.name not in ("day", "priority", "slot"))
# Any fixed number, the same in every replica: one compaction at a time across them.
_COMPACTION_LOCK = 0x626561636F6E  # "beacon"


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


async def compute(session: AsyncSession, now: datetime) -> Metrics:
    """The window's days after its first one from their sums (`incident_fact_days`: WINDOW's days
    times the priorities times the writers that changed them, added up per day and priority), and
    its first, partial day from the facts of the incidents
    declared in it, since `now - WINDOW` (an indexed range of one day); folded here."""
    since = now - WINDOW
    first_day = since.astimezone(UTC).date()
    next_midnight = datetime.combine(first_day + timedelta(days=1), time(), UTC)
    d, f = IncidentFactDayRow, IncidentFactRow
    summed = (select(d.day, d.priority, *(func.sum(c) for c in (
        d.incidents, d.acknowledged, d.acknowledged_seconds, d.mitigated, d.mitigated_seconds, d.resolved,
        d.resolved_seconds, d.updates_on_time, d.updates_late, d.updates_automatic)))
              .where(d.day > first_day.isoformat()).group_by(d.day, d.priority).having(func.sum(d.incidents) > 0))
    day = utc_day(session, f.declared_at).label("day")
    measured = [aggregate for at in (f.acknowledged_at, f.mitigated_at, f.resolved_at)
                for aggregate in (func.count(at), func.sum(seconds_between(session, at, f.declared_at)))]
    partial = (select(day, f.priority, func.count(), *measured, func.sum(f.updates_on_time), func.sum(f.updates_late),
                      func.sum(f.updates_automatic))
               .where(f.drill.is_(False), f.declared_at >= since, f.declared_at < next_midnight)
               .group_by(day, f.priority))
    # priority → per measure (acknowledge, mitigate, resolve): how many incidents it measured, and
    # their seconds summed (a float: SQLite measures with julianday(), a double)
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * MEASURES)
    seconds: dict[str, list[float]] = defaultdict(lambda: [0.0] * MEASURES)
    weeks: dict[str, int] = defaultdict(int)
    updates = {"on_time": 0, "late": 0, "automatic": 0}
    for rows in (await session.execute(partial), await session.execute(summed)):
        for declared_on, priority, count, *numbers, on_time, late, automatic in rows:
            year, week, _ = date.fromisoformat(str(declared_on)[:10]).isocalendar()
            weeks[f"{year}-W{week:02d}"] += count
            for i in range(MEASURES):
                counts[priority][i] += int(numbers[2 * i] or 0)
                seconds[priority][i] += float(numbers[2 * i + 1] or 0)
            for key, value in (("on_time", on_time), ("late", late), ("automatic", automatic)):
                updates[key] += int(value or 0)

    def means(measure: int) -> dict[str, tuple[int, float]]:
        # The mean rounded to the millisecond (julianday() leaves sub-millisecond noise).
        return {priority: (n[measure], round(seconds[priority][measure] / n[measure], 3))
                for priority, n in sorted(counts.items()) if n[measure]}

    return Metrics(means(0), means(1), means(2), dict(sorted(weeks.items())), updates, *await _actions(session))


async def _actions(session: AsyncSession) -> tuple[int, int]:
    """Open follow-up actions, and those past their overdue reminder, of every incident (drills
    excluded): what is still owed does not age out of the window. Both are ranges of
    `ix_review_actions_status` (migration 0031): the open ones, never the done ones of the history."""
    joined = select(func.count()).select_from(ActionItemRow).join(
        IncidentRow, IncidentRow.id == ActionItemRow.incident_id).where(
        IncidentRow.drill.is_(False), ActionItemRow.status == "open")
    return (await session.scalar(joined.where(ActionItemRow.overdue.is_(True))) or 0,
            await session.scalar(joined) or 0)


async def compact_fact_days(session: AsyncSession) -> int:
    """On PostgreSQL, move the sums of every writer that is no longer connected (its pid not in
    pg_stat_activity) into COMPACTED_SLOT, in both tables of per-writer sums (the incident facts'
    days, and the paging acknowledgements' days of migration 0033), each row adding to what is
    there; returns how many rows were merged. One statement per table deletes those rows and adds
    what it deleted, so a sum is never counted twice nor lost: a live writer only writes its own
    slot, untouched here; a writer gone never writes again, and should a new process get its pid,
    its upsert either waits for this commit and writes a new row, or committed first and its row is
    moved as it stands. Another replica compacting meanwhile is skipped, not waited for. SQLite has
    one slot: nothing to do. Commit to keep it."""
    if not is_postgresql(session):
        return 0
    if not await try_advisory_lock(session, _COMPACTION_LOCK):
        return 0
    return (await _compact(session, "incident_fact_days", ("day", "priority"), DAY_SUMS)
            + await _compact(session, "paging_ack_days", ACK_DAY_KEY, ACK_DAY_SUMS))


async def _compact(session: AsyncSession, table: str, key: tuple[str, ...], sums: tuple[str, ...]) -> int:
    keys, values = ", ".join(key), ", ".join(sums)
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in sums)
    return int(await session.scalar(text(f"""
        WITH gone AS (
          DELETE FROM {table} WHERE slot <> :compacted
            AND slot NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
          RETURNING {keys}, {values}),
        merged AS (  -- run to completion whether read or not, as every modifying WITH
          INSERT INTO {table} ({keys}, slot, {values})
          SELECT {keys}, :compacted, {", ".join(f"sum({c})" for c in sums)} FROM gone GROUP BY {keys}
          ON CONFLICT ({keys}, slot) DO UPDATE SET {added})
        SELECT count(*) FROM gone"""),
        {"compacted": COMPACTED_SLOT}) or 0)


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
