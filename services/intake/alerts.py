"""Monitoring alerts → incidents: receive a post durably, then deduplicate, group, declare,
reopen and follow resolution, all in the transaction that stores the receipt.

A post is answered 2xx only after that transaction commits, so an accepted alert is never lost;
a failure rolls everything back and the sender's retry starts afresh. Alert transactions run one
at a time (alert_store.serialise_alert_intake), which is what keeps two posts of one alert from
declaring two incidents on SQLite and on PostgreSQL with several replicas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.alerts import Alert, Classification, classify_alert
from services.incidents import DomainError, Incident, Status
from services.intake import alert_store
from services.intake.tables import AlertLinkRow, AlertReceiptRow
from services.intake.within import (
    BEACON,
    change_within,
    declare_within,
    record,
    refresh_card,
    thread_note,
    thread_target,
)
from services.lifecycle import Deps, ThreadTarget
from services.store.uow import ConcurrentUpdate, UnitOfWork

MAX_TITLE = 200


@dataclass(frozen=True)
class AlertOutcome:
    """What Beacon did with one alert: declared, repeated, grouped, reopened, resolved, ignored."""

    key: str
    status: str
    outcome: str
    incident_id: int | None

    def to_dict(self) -> dict[str, Any]:
        number = f"INC-{self.incident_id}" if self.incident_id else None
        return {"key": self.key, "status": self.status, "outcome": self.outcome, "incident": number}


async def receive_alerts(source: str, body: dict[str, Any], alerts: list[Alert], deps: Deps) -> list[AlertOutcome]:
    """Store the post and apply its alerts, in one transaction; retried when a card action changed
    an incident at the same moment (the alert is judged again against that change)."""
    for _attempt in range(5):
        try:
            return await _receive_once(source, body, alerts, deps)
        except (ConcurrentUpdate, IntegrityError):
            continue
    raise DomainError("the incident is changing too fast; the alert was not stored, send it again")


async def _receive_once(source: str, body: dict[str, Any], alerts: list[Alert], deps: Deps) -> list[AlertOutcome]:
    now = deps.clock.now()
    async with deps.uow() as uow:
        # The receipt is the first statement on purpose: on SQLite this write takes the lock.
        receipt = AlertReceiptRow(source=source, received_at=now, body=body, alert_count=len(alerts), outcome=[])
        uow.session.add(receipt)
        await uow.session.flush()
        await alert_store.serialise_alert_intake(uow)
        intake = _AlertIntake(uow, deps, now, receipt.id)
        outcomes = [await intake.apply(alert) for alert in alerts]
        receipt.outcome = [o.to_dict() for o in outcomes]
        await uow.commit()
    return outcomes


class _AlertIntake:
    """One receipt's alerts, applied in order inside its transaction."""

    def __init__(self, uow: UnitOfWork, deps: Deps, now: datetime, receipt_id: int):
        self.uow, self.deps, self.now, self.receipt_id = uow, deps, now, receipt_id
        self.routing = deps.config.alert_routing

    def _outcome(self, alert: Alert, outcome: str, incident_id: int | None) -> AlertOutcome:
        return AlertOutcome(alert.key, alert.status, outcome, incident_id)

    async def apply(self, alert: Alert) -> AlertOutcome:
        link = await alert_store.open_link(self.uow, alert.source, alert.key)
        if not alert.firing:
            return await self._resolved(alert, link)
        if link is not None:
            return await self._fired_again(alert, link)
        routed = classify_alert(alert, self.routing, self.deps.config.services)
        since = self.now - self.routing.grouping_window
        incident = await alert_store.grouping_candidate(self.uow, routed.service, since)
        if incident is not None:
            return await self._join(alert, routed, incident)
        return await self._declare(alert, routed)

    # -- firing ----------------------------------------------------------------------------
    async def _fired_again(self, alert: Alert, link: AlertLinkRow) -> AlertOutcome:
        link.count += 1
        link.last_at, link.status, link.resolved_at = self.now, "firing", None
        incident = await self._incident(link.incident_id)
        await record(self.uow, incident, "alert_repeated", f"{alert.rule} fired again ×{link.count}", self.now,
                     after={"source": alert.source, "key": alert.key, "count": link.count})
        return self._outcome(alert, await self._after_firing(alert, incident, "repeated"), incident.id)

    async def _join(self, alert: Alert, routed: Classification, incident: Incident) -> AlertOutcome:
        self._add_link(alert, routed, incident, declared=False)
        await record(self.uow, incident, "alert_joined",
                     f"{routed.origin} joined: {alert.summary} (service {routed.service})", self.now,
                     after=_alert_facts(alert, routed))
        return self._outcome(alert, await self._after_firing(alert, incident, "grouped"), incident.id)

    async def _after_firing(self, alert: Alert, incident: Incident, outcome: str) -> str:
        """An alert during the monitoring period reopens the incident; otherwise the card shows the count."""
        if incident.status is not Status.MONITORING:
            await refresh_card(self.uow, incident.id or 0, f"receipt{self.receipt_id}", self.now)
            return outcome
        was_open, old_impact = incident.is_open, incident.impact
        incident.move_to(Status.INVESTIGATING, BEACON, self.now)
        await change_within(self.uow, incident, self.deps, self.now, was_open=was_open, old_impact=old_impact,
                            note=f"{alert.origin} fired during monitoring: back to investigating")
        return "reopened"

    async def _declare(self, alert: Alert, routed: Classification) -> AlertOutcome:
        config = self.deps.config
        incident = Incident.declare(
            title=_title(alert), description=_description(alert, routed), impact=routed.impact,
            urgency=routed.urgency, priority=config.matrix.priority(routed.impact, routed.urgency),
            service=routed.service, client="", declared_by=BEACON, commander=None, source=alert.source,
            now=self.now)
        channel = config.channels.incidents_channel
        target = await thread_target(self.uow, channel)
        # Not installed anywhere: stored all the same; its card post fails visibly until Beacon is.
        await declare_within(self.uow, incident, target or ThreadTarget("", channel_id=channel), self.deps, self.now)
        self._add_link(alert, routed, incident, declared=True)
        await record(self.uow, incident, "alert_fired", f"declared {routed.origin}: {alert.summary} "
                     f"(service {routed.service} by {routed.reason})", self.now, actor=BEACON,
                     after=_alert_facts(alert, routed))
        if target is None:
            await record(self.uow, incident, "not_posted",
                         "Beacon is not installed in any team yet, so this incident's card cannot be posted "
                         "to Teams: add Beacon to a team", self.now)
        return self._outcome(alert, "declared", incident.id)

    def _add_link(self, alert: Alert, routed: Classification, incident: Incident, *, declared: bool) -> None:
        assert incident.id is not None
        self.uow.session.add(AlertLinkRow(
            incident_id=incident.id, source=alert.source, alert_key=alert_store.stored_key(alert.key),
            service=routed.service, rule=alert.rule[:300], severity=alert.severity[:30], summary=alert.summary,
            link=alert.link, status="firing", count=1, declared=declared, first_at=self.now, last_at=self.now))

    # -- resolved --------------------------------------------------------------------------
    async def _resolved(self, alert: Alert, link: AlertLinkRow | None) -> AlertOutcome:
        if link is None:
            return self._outcome(alert, "ignored: no open incident has this alert", None)
        if link.status == "resolved":
            return self._outcome(alert, "already resolved", link.incident_id)
        link.status, link.resolved_at, link.last_at = "resolved", alert.ended_at or self.now, self.now
        incident = await self._incident(link.incident_id)
        await record(self.uow, incident, "alert_resolved", f"{alert.origin} resolved", self.now,
                     after={"source": alert.source, "key": alert.key})
        await self.uow.session.flush()
        links = await alert_store.links_of(self.uow, link.incident_id)
        if any(other.status == "firing" for other in links):
            await refresh_card(self.uow, link.incident_id, f"receipt{self.receipt_id}", self.now)
            return self._outcome(alert, "resolved", link.incident_id)
        return self._outcome(alert, await self._all_resolved(incident, len(links)), link.incident_id)

    async def _all_resolved(self, incident: Incident, count: int) -> str:
        """Every linked alert has resolved: resolve if the config says so, else suggest it."""
        assert incident.id is not None
        what = "the alert" if count == 1 else f"all {count} linked alerts"
        if self.routing.auto_resolve and incident.is_open:
            was_open, old_impact = incident.is_open, incident.impact
            incident.resolve(f"Monitoring reports {what} resolved (alert_routing.auto_resolve)", BEACON, self.now)
            await change_within(self.uow, incident, self.deps, self.now, was_open=was_open, old_impact=old_impact)
            return "resolved; incident resolved"
        await refresh_card(self.uow, incident.id, f"receipt{self.receipt_id}", self.now)
        await thread_note(self.uow, incident.id, f"Monitoring reports {what} of {incident.number} resolved. "
                          "Resolve the incident once you have checked.", f"all-resolved:r{self.receipt_id}", self.now)
        return "resolved; all linked alerts resolved"

    async def _incident(self, incident_id: int) -> Incident:
        incident = await self.uow.get_incident(incident_id)
        assert incident is not None, f"alert link to missing INC-{incident_id}"
        return incident


def _title(alert: Alert) -> str:
    title = alert.rule if alert.summary in ("", alert.rule) else f"{alert.rule}: {alert.summary}"
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"


def _description(alert: Alert, routed: Classification) -> str:
    parts = [f"Declared by Beacon {routed.origin}.", alert.description,
             f"Severity {alert.severity}." if alert.severity else "", alert.link]
    return "\n\n".join(part for part in parts if part)[:4000]


def _alert_facts(alert: Alert, routed: Classification) -> dict[str, Any]:
    return {"source": alert.source, "key": alert.key, "rule": alert.rule, "severity": alert.severity,
            "service": routed.service, "team": routed.team, "reason": routed.reason, "link": alert.link,
            "started_at": alert.started_at.isoformat() if alert.started_at else None}
