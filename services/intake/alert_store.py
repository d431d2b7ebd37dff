"""Alert receipts and links inside the caller's unit of work (`uow.alerts`): which open incident an
alert belongs to."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, bindparam, delete, false, insert, literal, select, union_all, update

from services.incidents import OPEN_STATUSES, Incident, Status
from services.intake.tables import AlertLinkRow, AlertReceiptRow
from services.store.dialect import advisory_lock
from services.store.mapping import incident_from_row
from services.store.tables import IncidentRow

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork

_OPEN = [s.value for s in OPEN_STATUSES]
_MAX_KEY = 500
_KEYS_PER_QUERY = 500  # well under SQLite's limit on bound parameters
# Any constant works; it only has to differ from the other advisory locks Beacon takes (727274).
_ALERT_LOCK = 727275
_INSERT_RECEIPTS = insert(AlertReceiptRow.__table__)  # Core: one executemany, no ids read back
_RECEIPTS = AlertReceiptRow.__table__
# The oldest receipts received before :before, a batch at a time (on the received_at index).
_PRUNE_RECEIPTS = delete(_RECEIPTS).where(_RECEIPTS.c.id.in_(
    select(_RECEIPTS.c.id).where(_RECEIPTS.c.received_at < bindparam("before"))
    .order_by(_RECEIPTS.c.received_at).limit(bindparam("batch")).scalar_subquery()))


def stored_key(key: str) -> str:
    """Alert keys are short ids or fingerprints; an outsized one is stored as its hash."""
    if len(key) <= _MAX_KEY:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


# An incident's alerts, as its card shows them after every click (built once, bound per call).
_LINKS = AlertLinkRow.__table__
_LINKS_OF = select(_LINKS).where(_LINKS.c.incident_id == bindparam("incident_id")).order_by(_LINKS.c.id)


# The open links of the alerts a transaction brings, each with its incident's columns (built once;
# Core rows: the link's own columns are labelled, the incident's keep their names).
_INCIDENTS = IncidentRow.__table__
_OPEN_LINKS = (select(_LINKS.c.id.label("link_id"), _LINKS.c.source.label("link_source"),
                      _LINKS.c.alert_key.label("link_key"), _LINKS.c.status.label("link_status"),
                      _LINKS.c.count.label("link_count"), _LINKS.c.last_at.label("link_last_at"),
                      _LINKS.c.resolved_at.label("link_resolved_at"), _INCIDENTS)
               .join_from(_LINKS, _INCIDENTS, _INCIDENTS.c.id == _LINKS.c.incident_id)
               .where(_LINKS.c.source.in_(bindparam("sources", expanding=True)),
                      _LINKS.c.alert_key.in_(bindparam("keys", expanding=True)), _INCIDENTS.c.status.in_(_OPEN))
               .order_by(_LINKS.c.id))
_INSERT_LINK = insert(_LINKS).returning(_LINKS.c.id)
# A link's changes, for many links in one statement (executemany): the SET columns are the keys given.
_WRITE_LINKS = update(_LINKS).where(_LINKS.c.id == bindparam("link_id"))


@dataclass(eq=False)
class OpenLink:
    """An alert's link on an open incident as an alert transaction holds it: read as a plain row,
    changed in memory while the transaction's alerts are applied, and written back with the other
    links it changed in one statement (AlertStore.write_links)."""

    id: int
    incident_id: int
    source: str
    alert_key: str
    status: str  # firing | resolved
    count: int
    last_at: datetime
    resolved_at: datetime | None = None
    changed: bool = False

    def fired(self, now: datetime) -> None:
        """It fired again: one more firing, and firing now if it had resolved."""
        self.count += 1
        self.last_at, self.status, self.resolved_at, self.changed = now, "firing", None, True

    def resolve(self, at: datetime, now: datetime) -> None:
        self.status, self.resolved_at, self.last_at, self.changed = "resolved", at, now, True

    def values(self) -> dict[str, Any]:
        return {"link_id": self.id, "count": self.count, "status": self.status, "last_at": self.last_at,
                "resolved_at": self.resolved_at}


def _grouping_candidate() -> Any:
    """grouping_candidate's three questions in one statement, built once, best answer first: an
    open incident whose alerts on the service fired since `since`; one on the service in
    monitoring; one declared on the service since `since`. Drills never take real alerts."""
    live = (IncidentRow.status.in_(_OPEN), IncidentRow.drill == false())
    service, since = bindparam("service"), bindparam("since", type_=AlertLinkRow.last_at.type)
    questions = (
        select(IncidentRow.id, literal(1).label("rank")).join(AlertLinkRow, AlertLinkRow.incident_id == IncidentRow.id)
        .where(*live, AlertLinkRow.service == service, AlertLinkRow.last_at >= since)
        .order_by(AlertLinkRow.last_at.desc(), IncidentRow.id.desc()).limit(1),
        select(IncidentRow.id, literal(2).label("rank")).where(*live, IncidentRow.service == service,
                                                                IncidentRow.status == Status.MONITORING.value)
        .order_by(IncidentRow.id.desc()).limit(1),
        select(IncidentRow.id, literal(3).label("rank")).where(*live, IncidentRow.service == service,
                                                                IncidentRow.declared_at >= since)
        .order_by(IncidentRow.id.desc()).limit(1))
    # Each question keeps its own order and limit inside a subquery (SQLite allows neither on a
    # member of a compound select).
    answers = union_all(*(select(q.subquery()) for q in questions)).subquery()
    return select(answers.c.id).order_by(answers.c.rank).limit(1)


_GROUPING_CANDIDATE = _grouping_candidate()


class AlertStore:
    """Alert receipts and links of the current unit of work (`uow.alerts`)."""

    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def serialise(self) -> None:
        """One alert transaction at a time, so two posts of one alert can never both find no incident
        and declare two. PostgreSQL: a transaction-scoped advisory lock (across replicas). SQLite:
        the caller's first statement is a write, which already holds the database's write lock, and
        every read after it sees the last committed alert."""
        await advisory_lock(self._uow.session, _ALERT_LOCK)

    async def add_receipts(self, receipts: list[dict[str, Any]]) -> None:
        """Store the posts as received, each with its outcomes (AlertReceiptRow's columns), in one statement."""
        if receipts:
            await self._uow.session.execute(_INSERT_RECEIPTS, receipts)

    async def prune_receipts(self, before: datetime, batch: int) -> int:
        """Delete up to `batch` of the receipts received before `before`, oldest first; how many went."""
        result = await self._uow.session.execute(_PRUNE_RECEIPTS, {"before": before, "batch": batch})
        return int(result.rowcount or 0)

    async def add_link(self, values: dict[str, Any]) -> OpenLink:
        """Link an alert to an incident (AlertLinkRow's columns): written at once, since the alerts
        after it in the transaction may fire it again."""
        link_id = (await self._uow.session.execute(_INSERT_LINK, values)).scalar_one()
        return OpenLink(link_id, values["incident_id"], values["source"], values["alert_key"], values["status"],
                        values["count"], values["last_at"], values.get("resolved_at"))

    async def write_links(self, links: Iterable[OpenLink]) -> None:
        """Write what changed in these links, in one statement."""
        changed = [link for link in links if link.changed]
        if changed:
            await self._uow.session.execute(_WRITE_LINKS, [link.values() for link in changed])
            for link in changed:
                link.changed = False

    async def open_links(self, alerts: Iterable[tuple[str, str]]
                         ) -> tuple[dict[tuple[str, str], OpenLink | None], dict[int, Incident]]:
        """Each alert's link on an open incident, if it has one, keyed by (source, stored_key), in one
        query per 500 keys; with those incidents."""
        found: dict[tuple[str, str], OpenLink | None] = {(source, stored_key(key)): None for source, key in alerts}
        incidents: dict[int, Incident] = {}
        keys = sorted({key for _, key in found})
        sources = sorted({source for source, _ in found})
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            rows = await self._uow.session.execute(_OPEN_LINKS, {
                "sources": sources, "keys": keys[start:start + _KEYS_PER_QUERY]})
            for row in rows:  # ascending ids: the newest link of an alert wins
                found[(row.link_source, row.link_key)] = OpenLink(
                    row.link_id, row.id, row.link_source, row.link_key, row.link_status, row.link_count,
                    row.link_last_at, row.link_resolved_at)
                if row.id not in incidents:
                    incidents[row.id] = incident_from_row(row)  # type: ignore[arg-type]
        return found, incidents

    async def links_of(self, incident_id: int) -> list[Row[Any]]:
        """An incident's alert links, oldest first, as read-only rows with the table's columns."""
        return list(await self._uow.session.execute(_LINKS_OF, {"incident_id": incident_id}))

    async def grouping_candidate(self, service: str, since: datetime) -> Incident | None:
        """The open incident a new alert on `service` joins, best first: one whose alerts on that
        service fired within the grouping window; one on that service in monitoring (an alert during
        the monitoring period reopens it, however long ago it began); one declared on that service
        within the window. Drills never take real alerts."""
        if not service:
            return None  # no service, nothing to group by
        found = await self._uow.session.scalar(_GROUPING_CANDIDATE, {"service": service, "since": since})
        return await self._uow.incidents.get(found) if found is not None else None
