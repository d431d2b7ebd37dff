"""Fixtures the integration tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from services.store.db import create_engine, migrate


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """Beacon's engine on a migrated database (SQLite, or PostgreSQL where the test runs on it)."""
    engine = create_engine(database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()
