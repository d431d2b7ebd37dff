"""Reading and writing bridge rows inside the caller's unit of work (`uow.bridges`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, select

from services.bridge.model import Bridge, BridgeCall, BridgeState, Invitee, call_key
from services.bridge.tables import BridgeCallRow, BridgeRow, HeldCallNotificationRow
from services.incidents import Person
from services.ports import CallTarget, Meeting, Recipient

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork


def _person(data: dict[str, Any] | None) -> Person | None:
    return Person.from_dict(data) if data else None


def bridge_from_row(row: BridgeRow) -> Bridge:
    meeting = None
    if row.join_url:
        meeting = Meeting(id=row.meeting_id, join_url=row.join_url, dial_in=row.dial_in or None,
                          conference_id=row.conference_id or None, passcode=row.passcode or None)
    return Bridge(
        incident_id=row.incident_id, state=BridgeState(row.state), attempt=row.attempt,
        requested_by=_person(row.requested_by), requested_at=row.requested_at,
        invitees=tuple(Invitee.from_dict(i) for i in row.invitees or []),
        invited=tuple(Recipient(email, name) for email, name in row.invited or []),
        meeting=meeting, created_at=row.created_at, error=row.error)


def call_from_row(row: BridgeCallRow) -> BridgeCall:
    return BridgeCall(
        call_id=row.call_id, incident_id=row.incident_id, state=row.state,
        targets=tuple(CallTarget(t["aad_object_id"], t.get("name", "")) for t in row.targets or []),
        participants=tuple((str(p[0]), str(p[1])) for p in row.participants or []),
        started_at=row.started_at, updated_at=row.updated_at)


# An incident's bridge as its card shows it after every click (built once, bound per call; a
# session.get builds its select anew each time).
_BRIDGES = BridgeRow.__table__
_BRIDGE_OF = select(_BRIDGES).where(_BRIDGES.c.incident_id == bindparam("incident_id"))


class BridgeStore:
    """The bridge rows of the current unit of work (`uow.bridges`)."""

    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def row(self, incident_id: int) -> BridgeRow | None:
        return await self._uow.session.get(BridgeRow, incident_id, populate_existing=True)

    async def get(self, incident_id: int) -> Bridge | None:
        """The bridge as it stands (a read-only row: every card shows it)."""
        row = (await self._uow.session.execute(_BRIDGE_OF, {"incident_id": incident_id})).first()
        return bridge_from_row(row) if row else None  # type: ignore[arg-type]

    async def add(self, incident_id: int, requested_by: Person, invitees: list[Invitee], now: datetime) -> BridgeRow:
        """Insert the incident's bridge; a concurrent first click makes the flush raise IntegrityError."""
        row = BridgeRow(incident_id=incident_id, state=BridgeState.REQUESTED.value, attempt=1,
                        requested_by=requested_by.to_dict(), requested_at=now,
                        invitees=[i.to_dict() for i in invitees], invited=[], meeting_id="", join_url="",
                        dial_in="", conference_id="", passcode="", error="", updated_at=now)
        self._uow.session.add(row)
        await self._uow.session.flush()
        return row

    async def call_row(self, call_id: str) -> BridgeCallRow | None:
        return await self._uow.session.get(BridgeCallRow, call_key(call_id), populate_existing=True)

    async def hold_notification(self, call_id: str, notification: dict[str, Any], now: datetime,
                                older_than: datetime) -> None:
        """Keep a notification about a call not stored yet; unclaimed ones from before `older_than`
        go (they were about a call Beacon never stored, or that it stored long ago)."""
        session = self._uow.session
        await session.execute(delete(HeldCallNotificationRow).where(HeldCallNotificationRow.received_at < older_than))
        session.add(HeldCallNotificationRow(call_key=call_key(call_id), notification=notification, received_at=now))

    async def take_held(self, call_id: str) -> list[dict[str, Any]]:
        """The notifications held for this call, in arrival order, removed in the same statement so
        two takers (the delivery that stored the call and a late notification) never both get one."""
        taken = await self._uow.session.execute(
            delete(HeldCallNotificationRow).where(HeldCallNotificationRow.call_key == call_key(call_id))
            .returning(HeldCallNotificationRow.id, HeldCallNotificationRow.notification))
        return [notification for _, notification in sorted(taken.all(), key=lambda row: row[0])]

    async def latest_call(self, incident_id: int) -> BridgeCall | None:
        row = await self._uow.session.scalar(
            select(BridgeCallRow).where(BridgeCallRow.incident_id == incident_id)
            .order_by(BridgeCallRow.started_at.desc()).limit(1))
        return call_from_row(row) if row else None

    async def add_call(self, incident_id: int, call_id: str, targets: list[CallTarget],
                       requested_by: dict[str, Any] | None, now: datetime) -> None:
        if await self.call_row(call_id) is not None:
            return  # a retried delivery that got the same call back
        self._uow.session.add(BridgeCallRow(
            call_key=call_key(call_id), call_id=call_id, incident_id=incident_id, state="establishing",
            targets=[{"aad_object_id": t.aad_object_id, "name": t.name} for t in targets], participants=[],
            requested_by=requested_by, started_at=now, updated_at=now))


def store_meeting(row: BridgeRow, meeting: Meeting, invited: list[Recipient], now: datetime) -> None:
    row.state = BridgeState.CREATED.value
    row.meeting_id, row.join_url = meeting.id, meeting.join_url
    row.dial_in, row.conference_id = meeting.dial_in or "", meeting.conference_id or ""
    row.passcode = meeting.passcode or ""
    row.invited = [[r.email, r.name] for r in invited]
    row.created_at = row.updated_at = now
    row.error = ""


def add_invited(row: BridgeRow, invitees: list[Invitee], invited: list[Recipient], now: datetime) -> None:
    keys = {i["key"] for i in row.invitees or []}
    row.invitees = [*(row.invitees or []), *(i.to_dict() for i in invitees if i.key not in keys)]
    known = {email.lower() for email, _ in row.invited or []}
    row.invited = [*(row.invited or []), *([r.email, r.name] for r in invited if r.email.lower() not in known)]
    row.updated_at = now
