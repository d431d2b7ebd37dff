"""Monitoring alerts → incidents: receive a post durably, then deduplicate, group, declare,
reopen and follow resolution, all in the transaction that stores the receipt.

A post is answered 2xx only after that transaction commits, so an accepted alert is never lost;
a failure rolls everything back and the sender's retry starts afresh. Alert transactions run one
at a time (uow.alerts.serialise), which is what keeps two posts of one alert from
declaring two incidents on SQLite and on PostgreSQL with several replicas. Within one process,
posts that arrive while one runs are applied together in the next (group_commit.py): in a storm
that is one transaction for many posts, each still with its own receipt and outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count
from secrets import token_hex
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.alerts import Alert, Classification, classify_alert
from services.deps import Deps, ThreadTarget
from services.errors import ConcurrentUpdate
from services.incidents import DomainError, Incident, Person, Status, TimelineEvent
from services.intake import alert_store
from services.intake.alert_store import OpenLink
from services.intake.within import BEACON, entry, refresh_card, refresh_cards, thread_note, thread_target
from services.pipeline import change_within, declare_within
from services.store.db import database_unavailable
from services.store.group_commit import GroupCommit, group_commit_for
from services.store.uow import UnitOfWork

MAX_TITLE = 200
# Enough to absorb a storm's burst; small enough that one transaction stays short.
MAX_POSTS_PER_TRANSACTION = 50
# A repeated alert redraws its incident's card this long after it arrived, and the repeats
# meanwhile join that redraw: a storm costs one redraw per incident every 5 s, not one per alert.
# Teams answers 429 above 50 calls a second per app and tenant (200 storming incidents: 40) and
# 1,800 an hour in one thread (720); the card shows the count within 5 s.
REDRAW_AFTER = timedelta(seconds=5)
# A repeat is on the incident's timeline when it tells a reader something: the alert fires again
# after it had resolved, or after this long without firing, or it reaches ×2, ×10, ×100… firings.
# In between, its link and the card's alert line keep the count and its receipt keeps the post: a
# storm of 50 repeats is 2 entries on the timeline and in the report, not 49, and an alert that
# fires all week does not grow its incident's history by one row each time.
QUIET_SPELL = timedelta(minutes=10)
# Post tokens: this process's random prefix (replicas differ) and a count (a uuid4 per post costs
# more than the rest of a repeated alert's request).
_PROCESS, _POSTS = token_hex(6), count(1)


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


@dataclass(frozen=True)
class AlertPost:
    """One webhook post: its body as received and the alerts parsed from it."""

    source: str
    body: dict[str, Any]
    alerts: list[Alert]
    received_at: datetime
    # Names this post in the keys of what it queues (card redraws, thread notes), the same on a retry.
    token: str = field(default_factory=lambda: f"{_PROCESS}-{next(_POSTS)}")


async def receive_alerts(source: str, body: dict[str, Any], alerts: list[Alert], deps: Deps) -> list[AlertOutcome]:
    """Store the post and apply its alerts in one transaction, shared with the posts that arrived
    while the previous alert transaction ran (group commit); answered once it has committed."""
    post = AlertPost(source, body, alerts, deps.clock.now())
    commits = group_commit_for(deps.uow, lambda: GroupCommit[AlertPost, list[AlertOutcome]](
        MAX_POSTS_PER_TRANSACTION, alone_after=lambda error: not database_unavailable(error)))
    return await commits.submit(post, lambda posts: _receive(posts, deps))


async def _receive(posts: list[AlertPost], deps: Deps) -> list[list[AlertOutcome]]:
    """Retried when a card action changed an incident at the same moment (the alerts are judged
    again against that change)."""
    for _attempt in range(5):
        try:
            return await _receive_once(posts, deps)
        except (ConcurrentUpdate, IntegrityError):
            continue
    raise DomainError("the incident is changing too fast; the alert was not stored, send it again")


async def _receive_once(posts: list[AlertPost], deps: Deps) -> list[list[AlertOutcome]]:
    now = deps.clock.now()
    async with deps.uow() as uow:
        await uow.write_first()  # SQLite: the writer's turn before the first read
        await uow.alerts.serialise()
        shared = _Shared(*await uow.alerts.open_links([(a.source, a.key) for p in posts for a in p.alerts]))
        answers = []
        for post in posts:
            intake = _AlertIntake(uow, deps, now, post.token, shared)
            answers.append([await intake.apply(alert) for alert in post.alerts])
        await shared.write(uow)
        # Each post verbatim with what became of its alerts, all in one statement.
        await uow.alerts.add_receipts([
            dict(source=post.source, received_at=post.received_at, body=post.body, alert_count=len(post.alerts),
                 outcome=[o.to_dict() for o in outcomes]) for post, outcomes in zip(posts, answers, strict=True)])
        await refresh_cards(uow, shared.redraws, now, delay=REDRAW_AFTER)
        await uow.commit()
    return answers


@dataclass
class _Shared:
    """What the alerts of one transaction share, so a repeat costs no statement of its own: the
    open link of each alert key and the incidents they link to (looked up together at the start,
    kept current as alerts link, fire and resolve and as the core changes the incidents), the
    links' changes and the timeline entries that change no incident field (written together, in
    order, before the core or a read of the links needs them, and at the end) and the card redraws
    asked for (queued together at the end)."""

    links: dict[tuple[str, str], OpenLink | None]
    incidents: dict[int, Incident]  # the core changes these in place: the next alert sees the change
    redraws: dict[int, str] = field(default_factory=dict)
    events: list[tuple[int, int, TimelineEvent]] = field(default_factory=list)
    _target: ThreadTarget | None = None
    _target_read: bool = False

    def record(self, incident: Incident, kind: str, summary: str, now: datetime, *,
               actor: Person | None = None, after: dict[str, object] | None = None) -> None:
        """within.record, written with the others by write."""
        self.events.append(entry(incident, kind, summary, now, actor=actor, after=after))

    async def thread_target(self, uow: UnitOfWork, channel: str) -> ThreadTarget | None:
        """within.thread_target, read once: every declaration of the transaction is posted there."""
        if not self._target_read:
            self._target, self._target_read = await thread_target(uow, channel), True
        return self._target

    async def write(self, uow: UnitOfWork) -> None:
        """Write the links' changes and the entries recorded so far: before the core changes an
        incident or the links are read, and at the end."""
        await uow.alerts.write_links(link for link in self.links.values() if link is not None)
        events, self.events = self.events, []
        await uow.timeline.record_many(events)

    def closed(self, incident_id: int) -> None:
        for key, link in self.links.items():
            if link is not None and link.incident_id == incident_id:
                self.links[key] = None


class _AlertIntake:
    """One receipt's alerts, applied in order inside its transaction."""

    def __init__(self, uow: UnitOfWork, deps: Deps, now: datetime, post: str, shared: _Shared):
        self.uow, self.deps, self.now, self.post, self.shared = uow, deps, now, post, shared
        self.routing = deps.config.alert_routing

    def _outcome(self, alert: Alert, outcome: str, incident_id: int | None) -> AlertOutcome:
        return AlertOutcome(alert.key, alert.status, outcome, incident_id)

    async def apply(self, alert: Alert) -> AlertOutcome:
        if alert.test:  # the sender's "test" button: stored with the receipt, answered, nothing opened
            return self._outcome(alert, "ignored: a test notification (it opens no incident)", None)
        link = self.shared.links[(alert.source, alert_store.stored_key(alert.key))]  # looked up at the start
        if not alert.firing:
            return await self._resolved(alert, link)
        if link is not None:
            return await self._fired_again(alert, link)
        routed = classify_alert(alert, self.routing, self.deps.config.services)
        since = self.now - self.routing.grouping_window
        # Before the grouping read (it finds the candidate by when its alerts last fired) and before
        # the core declares or changes an incident.
        await self.shared.write(self.uow)
        incident = await self.uow.alerts.grouping_candidate(routed.service, since)
        if incident is not None:
            assert incident.id is not None
            return await self._join(alert, routed, self.shared.incidents.setdefault(incident.id, incident))
        return await self._declare(alert, routed)

    # -- firing ----------------------------------------------------------------------------
    async def _fired_again(self, alert: Alert, link: OpenLink) -> AlertOutcome:
        news = link.status == "resolved" or self.now - link.last_at >= QUIET_SPELL
        link.fired(self.now)
        incident = await self._incident(link.incident_id)
        if news or _tenfold(link.count):
            self.shared.record(incident, "alert_repeated", f"{alert.rule} fired again ×{link.count}", self.now,
                               after={"source": alert.source, "key": alert.key, "count": link.count})
        return self._outcome(alert, await self._after_firing(alert, incident, "repeated"), incident.id)

    async def _join(self, alert: Alert, routed: Classification, incident: Incident) -> AlertOutcome:
        await self._add_link(alert, routed, incident, declared=False)
        self.shared.record(incident, "alert_joined",
                           f"{routed.origin} joined: {alert.summary} (service {routed.service})", self.now,
                           after=_alert_facts(alert, routed))
        return self._outcome(alert, await self._after_firing(alert, incident, "grouped"), incident.id)

    async def _after_firing(self, alert: Alert, incident: Incident, outcome: str) -> str:
        """An alert during the monitoring period reopens the incident; otherwise the card shows the count."""
        if incident.status is not Status.MONITORING:
            self.shared.redraws.setdefault(incident.id or 0, f"post:{self.post}")
            return outcome
        was_open, old_impact = incident.is_open, incident.impact
        incident.move_to(Status.INVESTIGATING, BEACON, self.now)
        await self.shared.write(self.uow)
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
        target = await self.shared.thread_target(self.uow, channel)
        # Not installed anywhere: stored all the same; its card post fails visibly until Beacon is.
        await declare_within(self.uow, incident, target or ThreadTarget("", channel_id=channel), self.deps, self.now)
        assert incident.id is not None
        self.shared.incidents[incident.id] = incident
        await self._add_link(alert, routed, incident, declared=True)
        self.shared.record(incident, "alert_fired", f"declared {routed.origin}: {alert.summary} "
                           f"(service {routed.service} by {routed.reason})", self.now, actor=BEACON,
                           after=_alert_facts(alert, routed))
        if target is None:
            self.shared.record(incident, "not_posted",
                               "Beacon is not installed in any team yet, so this incident's card cannot be posted "
                               "to Teams: add Beacon to a team", self.now)
        return self._outcome(alert, "declared", incident.id)

    async def _add_link(self, alert: Alert, routed: Classification, incident: Incident, *, declared: bool) -> None:
        assert incident.id is not None
        link = await self.uow.alerts.add_link(dict(
            incident_id=incident.id, source=alert.source, alert_key=alert_store.stored_key(alert.key),
            service=routed.service, rule=alert.rule[:300], severity=alert.severity[:30], summary=alert.summary,
            link=alert.link, status="firing", count=1, declared=declared, first_at=self.now, last_at=self.now))
        self.shared.links[(link.source, link.alert_key)] = link

    # -- resolved --------------------------------------------------------------------------
    async def _resolved(self, alert: Alert, link: OpenLink | None) -> AlertOutcome:
        if link is None:
            return self._outcome(alert, "ignored: no open incident has this alert", None)
        if link.status == "resolved":
            return self._outcome(alert, "already resolved", link.incident_id)
        link.resolve(alert.ended_at or self.now, self.now)
        incident = await self._incident(link.incident_id)
        self.shared.record(incident, "alert_resolved", f"{alert.origin} resolved", self.now,
                           after={"source": alert.source, "key": alert.key})
        await self.shared.write(self.uow)
        links = await self.uow.alerts.links_of(link.incident_id)
        if any(other.status == "firing" for other in links):
            await refresh_card(self.uow, link.incident_id, f"post:{self.post}", self.now)
            return self._outcome(alert, "resolved", link.incident_id)
        return self._outcome(alert, await self._all_resolved(incident, len(links)), link.incident_id)

    async def _all_resolved(self, incident: Incident, count: int) -> str:
        """Every linked alert has resolved: resolve if the config says so, else suggest it."""
        assert incident.id is not None
        what = "the alert" if count == 1 else f"all {count} linked alerts"
        if self.routing.auto_resolve and incident.is_open:
            was_open, old_impact = incident.is_open, incident.impact
            incident.resolve(f"Monitoring reports {what} resolved (alert_routing.auto_resolve)", BEACON, self.now)
            await self.shared.write(self.uow)
            await change_within(self.uow, incident, self.deps, self.now, was_open=was_open, old_impact=old_impact)
            self.shared.closed(incident.id)
            return "resolved; incident resolved"
        await refresh_card(self.uow, incident.id, f"post:{self.post}", self.now)
        await thread_note(self.uow, incident.id, f"Monitoring reports {what} of {incident.number} resolved. "
                          "Resolve the incident once you have checked.", f"all-resolved:{self.post}", self.now)
        return "resolved; all linked alerts resolved"

    async def _incident(self, incident_id: int) -> Incident:
        incident = self.shared.incidents.get(incident_id)
        if incident is None:
            incident = await self.uow.incidents.get(incident_id)
            assert incident is not None, f"alert link to missing INC-{incident_id}"
            self.shared.incidents[incident_id] = incident
        return incident


def _tenfold(count: int) -> bool:
    """2, 10, 100, 1000…: the firings worth a timeline entry however close together they come."""
    return count == 2 or (count >= 10 and str(count).rstrip("0") == "1")


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
