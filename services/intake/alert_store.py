"""Alert receipts and links inside the caller's unit of work (`uow.alerts`): which open incident an
alert belongs to."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, bindparam, false, insert, select

from services.incidents import OPEN_STATUSES, Incident, Status
from services.intake.tables import AlertLinkRow, AlertReceiptRow
from services.store.dialect import advisory_lock
from services.store.tables import IncidentRow

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork

_OPEN = [s.value for s in OPEN_STATUSES]
_MAX_KEY = 500
_KEYS_PER_QUERY = 500  # well under SQLite's limit on bound parameters
# Any constant works; it only has to differ from the other advisory locks Beacon takes (727274).
_ALERT_LOCK = 727275
_INSERT_RECEIPTS = insert(AlertReceiptRow.__table__)  # Core: one executemany, no ids read back


def stored_key(key: str) -> str:
    """Alert keys are short ids or fingerprints; an outsized one is stored as its hash."""
    if len(key) <= _MAX_KEY:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


# An incident's alerts, as its card shows them after every click (built once, bound per call).
_LINKS = AlertLinkRow.__table__
_LINKS_OF = select(_LINKS).where(_LINKS.c.incident_id == bindparam("incident_id")).order_by(_LINKS.c.id)


# The open links of the alerts a transaction brings, with their incidents (built once).
_OPEN_LINKS = (select(AlertLinkRow, IncidentRow).join(IncidentRow, IncidentRow.id == AlertLinkRow.incident_id)
               .where(AlertLinkRow.source.in_(bindparam("sources", expanding=True)),
                      AlertLinkRow.alert_key.in_(bindparam("keys", expanding=True)), IncidentRow.status.in_(_OPEN))
               .order_by(AlertLinkRow.id))


def _grouping_candidates() -> tuple[Any, ...]:
    """grouping_candidate's three questions, best first, built once: an open incident whose alerts
    on the service fired since `since`; one on the service in monitoring; one declared on the
    service since `since`. Drills never take real alerts."""
    live = (IncidentRow.status.in_(_OPEN), IncidentRow.drill == false())
    service, since = bindparam("service"), bindparam("since", type_=AlertLinkRow.last_at.type)
    return (
        select(IncidentRow.id).join(AlertLinkRow, AlertLinkRow.incident_id == IncidentRow.id)
        .where(*live, AlertLinkRow.service == service, AlertLinkRow.last_at >= since)
        .order_by(AlertLinkRow.last_at.desc(), IncidentRow.id.desc()).limit(1),
        select(IncidentRow.id).where(*live, IncidentRow.service == service,
                                     IncidentRow.status == Status.MONITORING.value)
        .order_by(IncidentRow.id.desc()).limit(1),
        select(IncidentRow.id).where(*live, IncidentRow.service == service, IncidentRow.declared_at >= since)
        .order_by(IncidentRow.id.desc()).limit(1))


_GROUPING_CANDIDATES = _grouping_candidates()


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

    def add_link(self, link: AlertLinkRow) -> None:
        self._uow.session.add(link)

    async def open_link(self, source: str, key: str) -> AlertLinkRow | None:
        """This alert's link on an open incident, if it has one."""
        return await self._uow.session.scalar(
            select(AlertLinkRow).join(IncidentRow, IncidentRow.id == AlertLinkRow.incident_id)
            .where(AlertLinkRow.source == source, AlertLinkRow.alert_key == stored_key(key),
                   IncidentRow.status.in_(_OPEN))
            .order_by(AlertLinkRow.id.desc()).limit(1))

    async def open_links(self, alerts: Iterable[tuple[str, str]]
                         ) -> tuple[dict[tuple[str, str], AlertLinkRow | None], dict[int, IncidentRow]]:
        """open_link for many (source, key) pairs, keyed by (source, stored_key), in one query per 500
        keys; with the rows of their incidents (the session holds rows only while someone does)."""
        found: dict[tuple[str, str], AlertLinkRow | None] = {(source, stored_key(key)): None
                                                             for source, key in alerts}
        incidents: dict[int, IncidentRow] = {}
        keys = sorted({key for _, key in found})
        sources = {source for source, _ in found}
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            rows = await self._uow.session.execute(_OPEN_LINKS, {
                "sources": sorted(sources), "keys": keys[start:start + _KEYS_PER_QUERY]})
            for link, incident in rows:  # ascending ids: the newest link wins, as in open_link
                found[(link.source, link.alert_key)] = link
                incidents[incident.id] = incident
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
        found = None
        for query in _GROUPING_CANDIDATES:
            found = await self._uow.session.scalar(query, {"service": service, "since": since})
            if found is not None:
                break
        return await self._uow.incidents.get(found) if found is not None else None
