"""Paging metrics: time to acknowledge per service and priority, pages per method and outcome,
escalations by the level reached, and acknowledgements by level and method.

Each fact is written where it happens, in the transaction that makes it: an acknowledgement writes
a `paging_acks` row (migration 0011) beside itself, a page is its outbox row (its outcome filled in
by the worker), an escalation its timeline entry. The numbers are SQL aggregates over the last
`WINDOW` of those rows (indexed by time), so they survive restarts, agree across replicas, and
cost the same however many incidents Beacon has seen: nothing is loaded into Python row by row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import ColumnElement, Float, ForeignKey, Index, Integer, String, case, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.incidents import Incident, TimelineEvent
from services.incidents.model import ACK_VIA
from services.paging.effects import PAGE_TYPES
from services.store.incidents import not_a_drill
from services.store.tables import Base, OutboxRow, TimelineRow, UtcDateTime

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork

WINDOW = timedelta(days=90)
# Upper bounds (seconds) of the time-to-acknowledge buckets: half a minute to four hours.
BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)
PAGE_KINDS = tuple(t.kind for t in PAGE_TYPES.values())
STATES = ("pending", "sending", "sent", "failed", "skipped")  # an outbox row's, services.outbox
# A page skipped because its method is not configured (services.delivery.NotConfigured), spelled as
# the predicate of the partial index ix_outbox_unconfigured (migration 0032).
UNCONFIGURED = "last_error LIKE '%not configured'"


class PageAckRow(Base):
    """How and how fast an incident was acknowledged; one row per incident, drills left out."""

    __tablename__ = "paging_acks"
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    service: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    priority: Mapped[str] = mapped_column(String(20), nullable=False, default="")
    level: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # 0: no page was being answered
    via: Mapped[str] = mapped_column(String(20), nullable=False, default="")
    seconds: Mapped[float] = mapped_column(Float, nullable=False)

    # What the metrics read of the window's first day, from the index alone (migration 0032
    # replaced ix_paging_acks_at).
    __table_args__ = (Index("ix_paging_acks_window", "at", "service", "priority", "level", "via", "seconds"),)


class PageAckDayRow(Base):
    """The acknowledgements of one UTC day, service, priority, level, way and bucket of BUCKETS
    (the first the seconds fit under; len(BUCKETS) past the last), counted and their seconds summed,
    one row per writer (`slot`, as IncidentFactDayRow's): kept by a trigger on paging_acks in each
    acknowledgement's transaction (migration 0033); a day's sums are those of all its slots."""

    __tablename__ = "paging_ack_days"
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    service: Mapped[str] = mapped_column(String(200), primary_key=True)
    priority: Mapped[str] = mapped_column(String(20), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    via: Mapped[str] = mapped_column(String(20), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    acks: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    seconds: Mapped[float] = mapped_column(Float, nullable=False, default=0, server_default="0")


ACK_DAY_KEY = ("day", "service", "priority", "level", "via", "bucket")  # a row's key, less its slot
ACK_DAY_SUMS = ("acks", "seconds")


async def record_acknowledgement(session: AsyncSession, incident: Incident, events: Sequence[TimelineEvent]) -> None:
    """In the acknowledging transaction: the level is the page answered (a link, a Teams page or a
    call says which) or else the escalation's last level paged before it."""
    if incident.drill or incident.id is None or incident.acknowledged_at is None:
        return
    if await session.get(PageAckRow, incident.id) is not None:
        return
    acked = next((e for e in events if e.kind == "acknowledged"), None)
    level = int((acked.after or {}).get("level") or 0) if acked else 0
    if not level:
        level = await _last_level_paged(session, incident.id)
    session.add(PageAckRow(incident_id=incident.id, at=incident.acknowledged_at, service=incident.service or "",
                           priority=incident.priority, level=level, via=incident.acknowledged_via or "card",
                           seconds=max(0.0, (incident.acknowledged_at - incident.declared_at).total_seconds())))


async def _last_level_paged(session: AsyncSession, incident_id: int) -> int:
    rows = await session.scalars(select(TimelineRow.after).where(
        TimelineRow.incident_id == incident_id, TimelineRow.kind == "paged").order_by(TimelineRow.id.desc()).limit(20))
    return next((int(a.get("level") or 0) for a in rows if a and not a.get("manual")), 0)


class PagingMetrics:
    """The paging metrics inside a unit of work (`uow.paging_metrics`)."""

    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def record_acknowledgement(self, incident: Incident, events: Sequence[TimelineEvent]) -> None:
        await record_acknowledgement(self._uow.session, incident, events)

    async def summary_rows(self, now: datetime) -> list[tuple[str, str]]:
        return await summary_rows(self._uow.session, now)


@dataclass
class PagingNumbers:
    # (service, priority) -> (count, sum of seconds, cumulative count per bucket of BUCKETS)
    time_to_ack: dict[tuple[str, str], tuple[int, float, list[int]]] = field(default_factory=dict)
    pages: dict[tuple[str, str], int] = field(default_factory=dict)  # (method, outcome)
    escalations: dict[int, int] = field(default_factory=dict)  # level reached
    acknowledgements: dict[tuple[int, str], int] = field(default_factory=dict)  # (level, via)


async def _pages(session: AsyncSession, since: datetime) -> dict[tuple[str, str], int]:
    """(method, outcome) → pages queued since `since`, drills left out: sent, failed, pending,
    sending, or why a skipped one was not sent (not configured, else not needed). Both statements
    count index entries alone (migrations 0031 and 0032): every state named, so
    `ix_outbox_kind_state` gives a range for each, and the unconfigured ones from the partial
    index `ix_outbox_unconfigured`, whose predicate is spelled here as it is there."""
    o = OutboxRow
    window = (o.kind.in_(PAGE_KINDS), o.created_at >= since, not_a_drill(o.incident_id))
    pages: dict[tuple[str, str], int] = {}
    skipped: dict[str, int] = {}
    for kind, state, count in await session.execute(
            select(o.kind, o.status, func.count()).where(o.status.in_(STATES), *window).group_by(o.kind, o.status)):
        if state == "skipped":
            skipped[kind.removeprefix("page.")] = count
        else:
            pages[(kind.removeprefix("page."), state)] = count
    unconfigured = {kind.removeprefix("page."): count for kind, count in await session.execute(
        select(o.kind, func.count()).where(o.status == "skipped", text(UNCONFIGURED), *window).group_by(o.kind))}
    for method, count in skipped.items():
        why = {"not_configured": min(count, unconfigured.get(method, 0))}
        why["not_needed"] = count - why["not_configured"]
        pages.update({(method, outcome): n for outcome, n in why.items() if n})
    return pages


def _bucket(seconds: ColumnElement[float]) -> ColumnElement[int]:
    """The index of the first of BUCKETS `seconds` fits under (len(BUCKETS): over the last)."""
    return case(*((seconds <= bound, i) for i, bound in enumerate(BUCKETS)), else_=len(BUCKETS))


async def compute(session: AsyncSession, now: datetime) -> PagingNumbers:
    since = now - WINDOW
    numbers = PagingNumbers()
    # The acknowledgements of the window, grouped by everything both metrics need: the days after
    # its first from their sums (migration 0033), its first, partial day from the acknowledgements
    # themselves (a range of `ix_paging_acks_window`, migration 0032); folded into both here.
    a, d = PageAckRow, PageAckDayRow
    first_day = since.astimezone(UTC).date()
    next_midnight = datetime.combine(first_day + timedelta(days=1), time(), UTC)
    bucket = _bucket(a.seconds).label("bucket")
    partial = (select(a.service, a.priority, a.level, a.via, bucket, func.count(), func.sum(a.seconds))
               .where(a.at >= since, a.at < next_midnight).group_by(a.service, a.priority, a.level, a.via, bucket))
    summed = (select(d.service, d.priority, d.level, d.via, d.bucket, func.sum(d.acks), func.sum(d.seconds))
              .where(d.day > first_day.isoformat()).group_by(d.service, d.priority, d.level, d.via, d.bucket))
    for rows in (await session.execute(partial), await session.execute(summed)):
        for service, priority, ack_level, via, within, count, total in rows:
            n, seconds, per_bucket = numbers.time_to_ack.get((service, priority), (0, 0.0, [0] * len(BUCKETS)))
            for i in range(int(within), len(BUCKETS)):  # cumulative: every bound at or above its own
                per_bucket[i] += count
            numbers.time_to_ack[(service, priority)] = (n + count, seconds + float(total or 0), per_bucket)
            numbers.acknowledgements[(ack_level, via)] = numbers.acknowledgements.get((ack_level, via), 0) + count
    numbers.time_to_ack = dict(sorted(numbers.time_to_ack.items()))
    numbers.acknowledgements = dict(sorted(numbers.acknowledgements.items()))
    numbers.pages = await _pages(session, since)
    level = TimelineRow.after["to_level"].as_integer().label("level")
    for reached, count in await session.execute(
            select(level, func.count()).where(TimelineRow.kind == "escalated", TimelineRow.at >= since)
            .group_by(level)):
        numbers.escalations[int(reached or 0)] = count
    return numbers


def level_name(level: int) -> str:
    return str(level) if level else "none"


async def families(session: AsyncSession, now: datetime) -> list[GaugeMetricFamily | HistogramMetricFamily]:
    n = await compute(session, now)
    days = WINDOW.days
    ttack = HistogramMetricFamily("beacon_paging_time_to_acknowledge_seconds",
                                  f"Time from declaration to acknowledgement, last {days} days (drills excluded)",
                                  labels=["service", "priority"])
    for (service, priority), (count, total, cumulative) in sorted(n.time_to_ack.items()):
        ttack.add_metric([service, priority], [(str(float(b)), c) for b, c in zip(BUCKETS, cumulative, strict=True)]
                         + [("+Inf", count)], total)
    pages = GaugeMetricFamily("beacon_paging_pages", f"Pages sent by method and outcome, last {days} days",
                              labels=["method", "outcome"])
    for (method, outcome), count in sorted(n.pages.items()):
        pages.add_metric([method, outcome], count)
    escalations = GaugeMetricFamily("beacon_paging_escalations", f"Escalations by the level reached, last {days} days",
                                    labels=["level"])
    for reached, count in sorted(n.escalations.items()):
        escalations.add_metric([str(reached)], count)
    acks = GaugeMetricFamily("beacon_paging_acknowledgements", f"Acknowledgements by the level paged and how, "
                             f"last {days} days", labels=["level", "method"])
    for (level, via), count in sorted(n.acknowledgements.items()):
        acks.add_metric([level_name(level), via], count)
    return [ttack, pages, escalations, acks]


def _mean(count: int, total: float) -> str:
    minutes, seconds = divmod(int(round(total / count)) if count else 0, 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


async def summary_rows(session: AsyncSession, now: datetime) -> list[tuple[str, str]]:
    """The paging lines of `@Beacon metrics`."""
    n = await compute(session, now)
    days = WINDOW.days
    ack = "; ".join(f"{service or 'no service'} {priority}: {count} acknowledged, mean {_mean(count, total)}"
                    for (service, priority), (count, total, _) in sorted(n.time_to_ack.items()))
    methods = sorted({m for m, _ in n.pages})
    pages = "; ".join(f"{m}: " + ", ".join(f"{c} {o.replace('_', ' ')}" for (mm, o), c in sorted(n.pages.items())
                                          if mm == m) for m in methods)
    escalations = ", ".join(f"to level {level}: {count}" for level, count in sorted(n.escalations.items()))
    acks = "; ".join(f"{'level ' + str(level) if level else 'no page'} by {ACK_VIA.get(via, via)}: {count}"
                     for (level, via), count in sorted(n.acknowledgements.items()))
    return [(f"Time to acknowledge (paging, {days} days)", ack or "none"), (f"Pages ({days} days)", pages or "none"),
            (f"Escalations ({days} days)", escalations or "none"), (f"Acknowledged ({days} days)", acks or "none")]
