"""Turns to send to a Teams conversation, kept in the database so every replica paces together.

Each conversation has a log of the sends made (the last hour is enough for Teams' limits) and a
queue of effects waiting for a turn, in rank order. Asking for a turn takes the conversation's
lock (an advisory lock on PostgreSQL; SQLite's one writer already takes turns), computes the
effect's turn from its place in the queue and the few sends that decide it (services/pacing.py),
and either records the send (its turn has come) or tells the effect when to come back. A waiting
effect that does not come back within GRACE of its turn (it was skipped, coalesced or failed)
gives its place up.

A turn holds the lock while it runs, and an alert storm asks for hundreds of turns in one channel,
so a turn reads neither the hour's sends nor the queue: it counts the waiting rows ahead of its
place, and reads per limit only the sends that can decide its turn (at most one per place in the
queue, and never more than the limit), a few statements built once, whatever the traffic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    CompoundSelect,
    Integer,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)

from services.pacing import MARGIN, Limit, decisive, last_turn, longest
from services.store.dialect import advisory_lock
from services.store.tables import TeamsPacingRow, UtcDateTime

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


_pacing = cast(Table, TeamsPacingRow.__table__)
_c = _pacing.c
_sends = and_(_c.conversation_id == bindparam("conversation"), _c.sent.is_(True))
_waiting = and_(_c.conversation_id == bindparam("conversation"), _c.sent.is_(False))
# Built once: a turn runs them while it holds the conversation's lock, many times in a storm.
_FORGET = delete(_pacing).where(_c.conversation_id == bindparam("conversation"), or_(
    and_(_c.sent.is_(True), _c.at <= bindparam("sent_before", type_=UtcDateTime)),
    and_(_c.sent.is_(False), _c.at < bindparam("asked_before", type_=UtcDateTime))))
_JOIN = insert(_pacing).values(conversation_id=bindparam("conversation"), effect_id=bindparam("effect"),
                               rank=bindparam("rank"), sent=False, at=bindparam("now")).returning(_c.id)
_ahead_of = _pacing.alias("ahead")
_AHEAD = select(func.count()).select_from(_pacing).where(_waiting, or_(
    _c.rank < bindparam("rank"), and_(_c.rank == bindparam("rank"), _c.id < bindparam("row"))))
_FIND = (select(_c.id, _c.rank, select(func.count()).select_from(_ahead_of).where(
    _ahead_of.c.conversation_id == bindparam("conversation"), _ahead_of.c.sent.is_(False),
    or_(_ahead_of.c.rank < _c.rank, and_(_ahead_of.c.rank == _c.rank, _ahead_of.c.id < _c.id))).scalar_subquery())
         .where(_waiting, _c.effect_id == bindparam("effect")).order_by(_c.rank, _c.id).limit(1))
_SENT = update(_pacing).where(_c.id == bindparam("row")).values(sent=True, at=bindparam("now"), effect_id=None)
_BACK_AT = update(_pacing).where(_c.id == bindparam("row")).values(at=bindparam("due"))


@cache
def _decisive_sends(limits: int) -> CompoundSelect:
    """The latest send of the conversation (part -1), and for each of `limits` limits the sends
    in its window (`since_<n>`) that services.pacing.decisive picks (`skip_<n>`, `take_<n>`), in
    one statement whose parts each read a few entries of the (conversation, sent, at) index."""
    latest = select(_c.at).where(_sends).order_by(_c.at.desc()).limit(1).subquery()
    parts = [select(literal(-1).label("part"), latest.c.at)]
    for n in range(limits):
        window = (select(_c.at).where(_sends, _c.at > bindparam(f"since_{n}", type_=UtcDateTime))
                  .order_by(_c.at.desc()).offset(bindparam(f"skip_{n}", type_=Integer))
                  .limit(bindparam(f"take_{n}", type_=Integer)).subquery())
        parts.append(select(literal(n), window.c.at))
    return union_all(*parts)


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
        await session.execute(_FORGET, {"conversation": conversation_id, "sent_before": now - longest(limits),
                                        "asked_before": now - GRACE})
        await self._purge_quiet(now, limits)
        place_id, place = await self._place(conversation_id, effect_id, rank, now, count=wait)
        due = now if not wait else last_turn(*await self._sends(conversation_id, now, limits, place),
                                             place, now, limits)
        if due <= now:
            await session.execute(_SENT, {"row": place_id, "now": now})
            return now
        await session.execute(_BACK_AT, {"row": place_id, "due": due})
        return due

    async def _place(self, conversation_id: str, effect_id: int | None, rank: int, now: datetime, *,
                     count: bool) -> tuple[int, int]:
        """The effect's row in the conversation's queue (joining it if new) and, if `count`, its
        place there (1 first; by rank, then by asking), counted rather than read."""
        session = self._uow.session
        if effect_id is not None:
            found = (await session.execute(_FIND, {"conversation": conversation_id, "effect": effect_id})).first()
            if found is not None:
                return found[0], found[2] + 1
        joined = (await session.execute(_JOIN, {"conversation": conversation_id, "effect": effect_id, "rank": rank,
                                                "now": now})).scalar_one()
        if not count:
            return joined, 0
        ahead = await session.scalar(_AHEAD, {"conversation": conversation_id, "rank": rank, "row": joined})
        return joined, (ahead or 0) + 1

    async def _sends(self, conversation_id: str, now: datetime, limits: Sequence[Limit],
                     place: int) -> tuple[datetime | None, list[list[datetime]]]:
        """The latest send, and per limit the sends in its window that can decide the `place`-th
        turn (services.pacing.decisive), newest first."""
        values: dict[str, Any] = {"conversation": conversation_id}
        for n, limit in enumerate(limits):
            values[f"skip_{n}"], values[f"take_{n}"] = decisive(limit, place)
            values[f"since_{n}"] = now - limit.per - MARGIN
        latest: datetime | None = None
        windows: list[list[datetime]] = [[] for _ in limits]
        for part, at in (await self._uow.session.execute(_decisive_sends(len(limits)), values)).all():
            if part < 0:
                latest = at
            else:
                windows[part].append(at)
        return latest, [sorted(window, reverse=True) for window in windows]

    async def _purge_quiet(self, now: datetime, limits: Sequence[Limit]) -> None:
        """Drop every conversation's rows older than the longest window (and a waiting turn's grace)."""
        where = str(self._uow.session.get_bind().url)
        last = _purged_at.get(where)
        if last is not None and last <= now < last + PURGE_EVERY:
            return
        _purged_at[where] = now
        quiet = TeamsPacingRow.at < now - longest(limits) - GRACE
        await self._uow.session.execute(delete(TeamsPacingRow).where(quiet))
