"""What the incident card shows about intake: its alerts (with counts) and its Freshdesk tickets."""

from __future__ import annotations

from dataclasses import dataclass

from services.alerts.model import SOURCE_NAMES
from services.durations import span
from services.intake.store import CustomerMetrics
from services.review.metrics import WINDOW
from services.store.uow import UnitOfWork


@dataclass(frozen=True)
class AlertLine:
    source: str
    rule: str
    service: str
    status: str  # firing | resolved
    count: int
    declared: bool
    link: str

    @property
    def origin(self) -> str:
        return f"from {SOURCE_NAMES.get(self.source, self.source)}: {self.rule}"


@dataclass(frozen=True)
class TicketLine:
    ticket_id: int | None
    url: str
    role: str  # created | reported | merged
    state: str  # creating | linked | not_sent | failed
    error: str


@dataclass(frozen=True)
class IntakeSummary:
    alerts: tuple[AlertLine, ...] = ()
    tickets: tuple[TicketLine, ...] = ()

    @property
    def all_alerts_resolved(self) -> bool:
        return bool(self.alerts) and all(a.status == "resolved" for a in self.alerts)

    @property
    def origin(self) -> str:
        return next((a.origin for a in self.alerts if a.declared), "")


async def intake_summary(uow: UnitOfWork, incident_id: int) -> IntakeSummary:
    alerts = tuple(AlertLine(r.source, r.rule, r.service, r.status, r.count, r.declared, r.link)
                   for r in await uow.alerts.links_of(incident_id))
    linked = tuple(TicketLine(r.ticket_id, r.url, r.role, r.state, r.error)
                   for r in await uow.tickets.of(incident_id))
    return IntakeSummary(alerts, linked)


REPORTS_LINKED = f"Customer reports linked ({WINDOW.days} days)"


def customer_metric_rows(metrics: CustomerMetrics) -> list[tuple[str, str]]:
    """`@Beacon metrics` lines: customers' reports linked, and how soon they first heard back
    (from the first report to Beacon's first public reply), per incident."""
    if not metrics.reports:
        return [(REPORTS_LINKED, "none")]
    rows = [(REPORTS_LINKED, f"{metrics.reports} to {metrics.incidents} incident"
                             f"{'' if metrics.incidents == 1 else 's'}")]
    for line in metrics.latest:
        waited = line.time_to_first_reply
        reply = f"first public reply after {span(waited)}" if waited is not None else "no public reply yet"
        rows.append((f"INC-{line.incident_id} customers",
                     f"{line.reports} report{'' if line.reports == 1 else 's'} linked · {reply}"))
    return rows
