"""Turns to send to a Teams conversation, kept in the database so every replica paces together.

Each conversation has a log of the sends made (the last hour is enough for Teams' limits) and a
queue of effects waiting for a turn, in rank order. Asking for a turn takes the conversation's
lock (an advisory lock on PostgreSQL; SQLite's one writer already takes turns), computes the
queue's turns from the log (services/pacing.py), and either records the send (its turn has come)
or tells the effect when to come back. A waiting effect that does not come back within GRACE of
its turn (it was skipped, coalesced or failed) gives its place up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, or_, select, update

from services.pacing import Limit, longest, turns
from services.store.dialect import advisory_lock
from services.store.tables import TeamsPacingRow

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork

GRACE = timedelta(seconds=60)
# Conversations that fall quiet (a resolved incident's thread) are cleared by the next turn asked
# anywhere, at most this often per process: their rows say nothing once the longest window is past.
PURGE_EVERY = timedelta(minutes=10)
_purged_at: dict[str, datetime] = {}


def _lock_key(conversation_id: str) -> int:
    """A stable signed 64-bit advisory lock key per conversation."""
    return int.from_bytes(hashlib.sha256(b"teams-pacing:" + conversation_id.encode()).digest()[:8], "big",
                          signed=True)


class TeamsPacing:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def turn(self, conversation_id: str, effect_id: int | None, rank: int, now: datetime,
                   limits: Sequence[Limit], *, wait: bool = True) -> datetime:
        """When `effect_id` may send to the conversation. A time not after `now` means now, and
        the send is recorded as made; a later one keeps its place in the queue until then. Without
        `wait` the send is recorded now whatever the queue (a second send of one delivery, whose
        first already went). The caller commits."""
        session = self._uow.session
        await self._uow.write_first()
        await advisory_lock(session, _lock_key(conversation_id))
        mine = TeamsPacingRow.conversation_id == conversation_id
        await session.execute(delete(TeamsPacingRow).where(mine, or_(
            and_(TeamsPacingRow.sent.is_(True), TeamsPacingRow.at <= now - longest(limits)),
            and_(TeamsPacingRow.sent.is_(False), TeamsPacingRow.at < now - GRACE))))
        await self._purge_quiet(now, limits)
        sends = list(await session.scalars(select(TeamsPacingRow.at).where(mine, TeamsPacingRow.sent.is_(True))
                                           .order_by(TeamsPacingRow.at)))
        queue = list(await session.scalars(select(TeamsPacingRow).where(mine, TeamsPacingRow.sent.is_(False))
                                           .order_by(TeamsPacingRow.rank, TeamsPacingRow.id)))
        place = next((row for row in queue if effect_id is not None and row.effect_id == effect_id), None)
        if place is None:
            place = TeamsPacingRow(conversation_id=conversation_id, effect_id=effect_id, rank=rank, sent=False,
                                   at=now)
            session.add(place)
            await session.flush()
            queue = sorted([*queue, place], key=lambda row: (row.rank, row.id))
        due = now if not wait else turns(sends, queue.index(place) + 1, now, limits)[-1]
        if due <= now:
            await session.execute(update(TeamsPacingRow).where(TeamsPacingRow.id == place.id)
                                  .values(sent=True, at=now, effect_id=None))
            return now
        await session.execute(update(TeamsPacingRow).where(TeamsPacingRow.id == place.id).values(at=due))
        return due

    async def _purge_quiet(self, now: datetime, limits: Sequence[Limit]) -> None:
        """Drop every conversation's rows older than the longest window (and a waiting turn's grace)."""
        where = str(self._uow.session.get_bind().url)
        last = _purged_at.get(where)
        if last is not None and last <= now < last + PURGE_EVERY:
            return
        _purged_at[where] = now
        quiet = TeamsPacingRow.at < now - longest(limits) - GRACE
        await self._uow.session.execute(delete(TeamsPacingRow).where(quiet))
