"""Shared fixtures: a database on SQLite and on PostgreSQL for every test that needs one."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

PG_ADMIN_URL = os.environ.get("BEACON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


async def _pg_admin():  # type: ignore[no-untyped-def]
    import asyncpg

    return await asyncpg.connect(PG_ADMIN_URL, timeout=3)


_pg_status: dict[str, str] = {}


async def postgres_unavailable() -> str:
    """Why PostgreSQL cannot be used here, or '' when it can."""
    if "reason" not in _pg_status:
        try:
            connection = await _pg_admin()
            await connection.close()
            _pg_status["reason"] = ""
        except Exception as error:  # any failure means: skip with the reason
            _pg_status["reason"] = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {error}"
    return _pg_status["reason"]


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'beacon.db'}"
        return
    reason = await postgres_unavailable()
    if reason:
        pytest.skip(reason)
    name = f"beacon_test_{uuid.uuid4().hex[:12]}"
    admin = await _pg_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    yield f"{base}/{name}"
    admin = await _pg_admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
