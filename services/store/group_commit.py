"""Group commit: requests that arrive while a transaction of their kind is running wait for it
and are then applied together in the next one, so a storm of small posts costs a few large
transactions instead of one each, and they never queue on the database's own lock.

Each request is still answered only after the transaction holding it commits. When a combined
transaction fails, its requests are tried again one at a time (unless `alone_after` says the
error would fail each of them too, e.g. the database is away), so one bad request fails alone.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
Apply = Callable[[list[T]], Awaitable[list[R]]]


@dataclass(eq=False)
class _Waiting(Generic[T, R]):
    item: T
    answer: asyncio.Future[R]


class GroupCommit(Generic[T, R]):
    """One transaction at a time in this process; each takes everything waiting (up to `most`)."""

    def __init__(self, most: int = 50, alone_after: Callable[[BaseException], bool] = lambda _: True):
        self.most, self.alone_after = most, alone_after
        self._lock = asyncio.Lock()
        self._waiting: list[_Waiting[T, R]] = []

    async def submit(self, item: T, apply: Apply[T, R]) -> R:
        """`apply(items)` runs one transaction over items and returns their answers in order."""
        waiting: _Waiting[T, R] = _Waiting(item, asyncio.get_running_loop().create_future())
        # Read by someone even if this request is cancelled, so asyncio does not log it as lost.
        waiting.answer.add_done_callback(lambda answer: answer.cancelled() or answer.exception())
        self._waiting.append(waiting)
        try:
            async with self._lock:
                while not waiting.answer.done():
                    batch, self._waiting = self._waiting[:self.most], self._waiting[self.most:]
                    if not batch:  # ours is in a batch that a cancelled request started and that still runs
                        await asyncio.wait([waiting.answer])
                        break
                    # Shielded: the batch carries other requests, which a cancelled one must not abort.
                    await asyncio.shield(self._run(batch, apply))
        except asyncio.CancelledError:
            if waiting in self._waiting:  # never started: nobody was told it was accepted
                self._waiting.remove(waiting)
            raise
        return waiting.answer.result()

    async def _run(self, batch: list[_Waiting[T, R]], apply: Apply[T, R]) -> None:
        try:
            answers = await apply([w.item for w in batch])
        except asyncio.CancelledError:  # shutting down: nothing in the batch was committed
            for waiting in batch:
                waiting.answer.cancel()
            raise
        except Exception as error:
            if len(batch) == 1 or not self.alone_after(error):
                for waiting in batch:
                    waiting.answer.set_exception(error)
                return
            for waiting in batch:
                await self._run([waiting], apply)
            return
        for waiting, answer in zip(batch, answers, strict=True):
            waiting.answer.set_result(answer)


_BY_OWNER: weakref.WeakKeyDictionary[Any, GroupCommit[Any, Any]] = weakref.WeakKeyDictionary()


def group_commit_for(owner: Any, make: Callable[[], GroupCommit[T, R]]) -> GroupCommit[T, R]:
    """The one GroupCommit of `owner` (e.g. an application's unit-of-work factory), made on first use."""
    found = _BY_OWNER.get(owner)
    if found is None:
        found = _BY_OWNER[owner] = make()
    return found
