"""Group commit (services/store/group_commit.py): posts that arrive together share a transaction,
each gets its own answer, and one bad post fails alone."""

from __future__ import annotations

import asyncio

import pytest

from services.store.group_commit import GroupCommit


class Database:
    """Records the transactions it was asked to run; a transaction with a bad item fails whole."""

    def __init__(self, away: bool = False):
        self.transactions: list[list[int]] = []
        self.away = away

    async def apply(self, items: list[int]) -> list[str]:
        await asyncio.sleep(0.01)  # a commit takes a while: others arrive meanwhile
        self.transactions.append(list(items))
        if self.away:
            raise ConnectionError("database away")
        if any(item < 0 for item in items):
            raise ValueError(f"bad item in {items}")
        return [f"stored {item}" for item in items]


async def test_posts_arriving_together_share_transactions_and_get_their_own_answers():
    database, commits = Database(), GroupCommit[int, str](most=10)
    answers = await asyncio.gather(*(commits.submit(n, database.apply) for n in range(25)))
    assert answers == [f"stored {n}" for n in range(25)]
    assert sorted(n for t in database.transactions for n in t) == list(range(25))
    assert len(database.transactions) <= 5 and max(len(t) for t in database.transactions) <= 10


async def test_a_bad_post_fails_alone_and_the_others_are_stored():
    database, commits = Database(), GroupCommit[int, str](most=10)
    results = await asyncio.gather(*(commits.submit(n, database.apply) for n in (1, 2, -3, 4)),
                                   return_exceptions=True)
    assert results[:2] == ["stored 1", "stored 2"] and results[3] == "stored 4"
    assert isinstance(results[2], ValueError)
    assert [-3] in database.transactions  # retried on its own


async def test_when_the_database_is_away_every_post_fails_without_retrying_one_by_one():
    database = Database(away=True)
    commits = GroupCommit[int, str](most=10, alone_after=lambda error: not isinstance(error, ConnectionError))
    results = await asyncio.gather(*(commits.submit(n, database.apply) for n in range(4)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert sum(len(t) for t in database.transactions) == 4  # each tried once


async def test_a_cancelled_post_that_never_started_is_not_stored():
    database, commits = Database(), GroupCommit[int, str](most=10)
    first = asyncio.ensure_future(commits.submit(1, database.apply))
    await asyncio.sleep(0)  # the first transaction is running
    second = asyncio.ensure_future(commits.submit(2, database.apply))
    await asyncio.sleep(0)
    second.cancel()
    assert await first == "stored 1"
    with pytest.raises(asyncio.CancelledError):
        await second
    await asyncio.sleep(0.05)
    assert all(2 not in t for t in database.transactions)
