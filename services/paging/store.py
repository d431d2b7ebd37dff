"""On-call overrides inside a unit of work (`uow.oncall_overrides`), each change audited in the
same transaction."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from services.incidents import Person
from services.paging.shifts import Override
from services.paging.tables import OncallAuditRow, OverrideRow

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork


def _override(row: OverrideRow) -> Override:
    return Override(row.schedule, row.person, row.starts_at, row.ends_at, row.created_at, id=row.id,
                    created_by=(row.created_by or {}).get("name", ""))


# Every override in force at `at`, and those of some schedules (built once: each declaration's
# first page reads the first).
_ACTIVE = (select(OverrideRow).where(OverrideRow.cancelled_at.is_(None),
                                     OverrideRow.ends_at > bindparam("at", type_=OverrideRow.ends_at.type))
           .order_by(OverrideRow.id))
_ACTIVE_OF = _ACTIVE.where(OverrideRow.schedule.in_(bindparam("schedules", expanding=True)))


class OncallOverrides:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def add(self, schedule: str, person: str, starts_at: datetime, ends_at: datetime, *,
                  actor: Person | None, now: datetime, reason: str = "",
                  details: dict[str, Any] | None = None) -> Override:
        """Store an override and its audit entry (the caller validated schedule and person);
        `details` adds to the audit entry (e.g. who was on call before and after)."""
        row = OverrideRow(schedule=schedule, person=person, starts_at=starts_at, ends_at=ends_at, created_at=now,
                          created_by=actor.to_dict() if actor else None, reason=reason)
        self._uow.session.add(row)
        await self._uow.session.flush()
        who = actor.name if actor and actor.name else "Beacon"
        await self.audit("override_added", schedule, f"{who} made {person} on call for {schedule} from "
                         f"{starts_at:%Y-%m-%d %H:%M} until {ends_at:%Y-%m-%d %H:%M} UTC", actor=actor, now=now,
                         details={"override": row.id, "person": person, "starts_at": starts_at.isoformat(),
                                  "ends_at": ends_at.isoformat(), "reason": reason, **(details or {})})
        return _override(row)

    async def cancel(self, override_id: int, *, actor: Person | None, now: datetime,
                     details: dict[str, Any] | None = None) -> Override | None:
        row = await self._uow.session.get(OverrideRow, override_id)
        if row is None or row.cancelled_at is not None:
            return None
        row.cancelled_at = now
        who = actor.name if actor and actor.name else "Beacon"
        await self.audit("override_cancelled", row.schedule, f"{who} cancelled {row.person}'s cover of "
                         f"{row.schedule}", actor=actor, now=now, details={"override": row.id, **(details or {})})
        return _override(row)

    async def active(self, at: datetime, schedules: Collection[str] | None = None) -> list[Override]:
        """Overrides not cancelled and not yet over at `at` (of these schedules, when given)."""
        if schedules is not None and not schedules:
            return []
        query, params = (_ACTIVE, {"at": at}) if schedules is None else \
            (_ACTIVE_OF, {"at": at, "schedules": sorted(schedules)})
        return [_override(row) for row in await self._uow.session.scalars(query, params)]

    async def audit(self, kind: str, schedule: str, summary: str, *, actor: Person | None, now: datetime,
                    details: dict[str, Any] | None = None) -> None:
        self._uow.session.add(OncallAuditRow(at=now, actor=actor.to_dict() if actor else None, kind=kind,
                                             schedule=schedule, summary=summary, details=details))

    async def history(self, schedule: str, limit: int = 20) -> list[OncallAuditRow]:
        """The latest changes to a schedule, newest first."""
        query = select(OncallAuditRow).where(OncallAuditRow.schedule == schedule)
        return list(await self._uow.session.scalars(query.order_by(OncallAuditRow.id.desc()).limit(limit)))
