"""PostgreSQL's pooled connections are checked before use only after they sat idle: a connection
the server dropped meanwhile is replaced unseen, and one used a moment ago costs no round trip."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from services.store import db
from services.store.db import create_engine


@pytest.fixture
def postgresql_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's connections are files in the process: nothing drops them")
    return database_url


def counting_pings(engine) -> list[None]:  # type: ignore[no-untyped-def]
    pings: list[None] = []
    dialect = engine.sync_engine.dialect
    ping = dialect.do_ping

    def counted(dbapi_connection):  # type: ignore[no-untyped-def]
        pings.append(None)
        return ping(dbapi_connection)

    dialect.do_ping = counted
    return pings


async def backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT pg_backend_pid()")))


async def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use(postgresql_url, monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)
    engine = create_engine(postgresql_url)
    other = create_engine(postgresql_url)
    try:
        pid = await backend_pid(engine)  # the pool's one connection, now idle in it
        async with other.connect() as connection:  # an administrator, a restart, an idle timeout
            assert await connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert await backend_pid(engine) != pid  # answered, on a new connection
    finally:
        await engine.dispose()
        await other.dispose()


async def test_a_connection_back_in_the_pool_a_moment_ago_is_used_without_a_check(postgresql_url, monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 60.0)
    engine = create_engine(postgresql_url)
    try:
        pings = counting_pings(engine)
        first = await backend_pid(engine)
        for _ in range(5):
            assert await backend_pid(engine) == first
        assert pings == []
        monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)  # idle long enough: checked once per checkout
        await backend_pid(engine)
        assert len(pings) == 1
    finally:
        await engine.dispose()
