"""A Teams send waits for its conversation's turn (Teams' per-conversation limits, shared by
every replica through the database: services/pacing.py, services/store/pacing.py).

Called by the Teams adapter right before each send on behalf of an outbox effect. A turn not yet
come raises Paced: the outbox brings the effect back at its turn without counting an attempt,
so no delivery slot is held while a busy channel drains and email, SMS and pages keep going.
A new incident's root card ranks before notes and updates: in a storm every thread exists first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar

from services.clock import Clock
from services.delivery import Paced
from services.effects.teams import PostCard
from services.outbox import Effect, delivering
from services.pacing import Limit
from services.store.uow import UnitOfWork

ROOT_FIRST, THEN_THE_REST = 0, 1
# The conversations the delivery in this task has sent to already, by effect and attempt: a second
# send of one delivery (its first already went) is recorded, never made to wait, or the retry
# would send the first again.
_sent_here: ContextVar[tuple[int, int, set[str]] | None] = ContextVar("beacon_teams_sent_here", default=None)


def _first_send(effect: Effect, conversation_id: str) -> bool:
    sent = _sent_here.get()
    if sent is None or sent[:2] != (effect.id, effect.attempts):
        sent = (effect.id, effect.attempts, set())
        _sent_here.set(sent)
    first = conversation_id not in sent[2]
    sent[2].add(conversation_id)
    return first


async def wait_for_turn(uow: Callable[[], UnitOfWork], clock: Clock, conversation_id: str,
                        limits: Sequence[Limit]) -> None:
    """Return when this send may go now (recorded as made); raise Paced with when it may."""
    effect = delivering.get()
    if not limits or effect is None or not conversation_id:
        return  # unpaced, or not on behalf of an outbox effect (an answer within a Teams turn)
    first = _first_send(effect, conversation_id)
    rank = ROOT_FIRST if effect.kind == PostCard.kind else THEN_THE_REST
    now = clock.now()
    async with uow() as unit:
        turn = await unit.teams_pacing.turn(conversation_id, effect.id, rank, now, limits, wait=first)
        await unit.commit()
    if turn > now:
        _sent_here.get()[2].discard(conversation_id)  # type: ignore[index]
        wait = (turn - now).total_seconds()
        raise Paced(f"Teams' limits for {conversation_id} leave the next turn in {wait:.1f} s",
                    retry_after=wait, where=conversation_id)
