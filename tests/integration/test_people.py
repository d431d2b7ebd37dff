"""The names Beacon keeps for people (shown on cards), and the reads it saves on them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.incidents import Person
from services.store.db import create_engine, migrate, session_factory
from services.store.tables import PersonRow
from services.store.uow import UnitOfWork
from tests.integration.helpers import statements

ALICE = Person("aad-alice", "Alice")
NOW = datetime.now(UTC)


async def sessions_of(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(url)
    await migrate(engine)
    yield session_factory(engine)
    await engine.dispose()


@pytest_asyncio.fixture
async def sessions(database_url) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async for made in sessions_of(database_url):
        yield made


async def remember(sessions: async_sessionmaker[AsyncSession], *people: Person, commit: bool = True) -> None:
    async with UnitOfWork(sessions) as uow:
        await uow.people.remember(list(people), NOW)
        if commit:
            await uow.commit()


async def stored(sessions: async_sessionmaker[AsyncSession]) -> dict[str, tuple[str, str | None]]:
    async with sessions() as session:
        return {r.aad_object_id: (r.name, r.user_id) for r in await session.scalars(select(PersonRow))}


async def test_someone_known_by_the_same_name_costs_no_statement_and_a_new_name_is_stored(sessions):
    await remember(sessions, ALICE)
    seen = statements(sessions, lambda statement: "people" in statement)
    await remember(sessions, ALICE)
    await remember(sessions, Person("aad-alice", "Alice"))  # no user id in this activity: nothing changed
    assert seen == []
    await remember(sessions, Person("aad-alice", "Alice Smith", "29:alice"))
    assert await stored(sessions) == {"aad-alice": ("Alice Smith", "29:alice")}
    assert seen, "a new name was taken as known"


async def test_a_name_whose_unit_of_work_rolled_back_is_still_written_next_time(sessions):
    await remember(sessions, ALICE, commit=False)
    assert await stored(sessions) == {}
    await remember(sessions, ALICE)
    assert await stored(sessions) == {"aad-alice": ("Alice", None)}


async def test_each_database_keeps_its_own_people(tmp_path):
    async for first in sessions_of(f"sqlite+aiosqlite:///{tmp_path}/first.db"):
        async for second in sessions_of(f"sqlite+aiosqlite:///{tmp_path}/second.db"):
            await remember(first, ALICE)
            await remember(second, ALICE)
            assert await stored(second) == {"aad-alice": ("Alice", None)}
