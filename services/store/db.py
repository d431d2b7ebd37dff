"""Engine creation and migrations, for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str) -> AsyncEngine:
    if is_sqlite(url):
        # One writer at a time on SQLite: wait for the lock rather than fail, and use WAL so
        # readers are not blocked by the writer.
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection) -> None:
    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "heads")


async def migrate(engine: AsyncEngine) -> None:
    """Apply every pending migration. Several replicas starting at once take turns on PostgreSQL."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            from sqlalchemy import text

            await connection.execute(text("SELECT pg_advisory_xact_lock(727274)"))
        await connection.run_sync(_upgrade)


def _current_heads(connection: Connection) -> tuple[set[str], set[str]]:
    context = MigrationContext.configure(connection)
    script = ScriptDirectory.from_config(_alembic_config())
    return set(context.get_current_heads()), set(script.get_heads())


async def migrations_applied(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        current, heads = await asyncio.wait_for(connection.run_sync(_current_heads), timeout=5)
    return current == heads


class DatabaseUnavailable(Exception):
    """The database cannot be reached right now: answer 503 and let the caller retry."""


def database_unavailable(error: BaseException) -> bool:
    """Whether an error means the database is away (down, restarting, connection lost, pool
    exhausted, SQLite locked) rather than a bug. Follows the exception's causes."""
    import sqlalchemy.exc as sa

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DatabaseUnavailable | sa.OperationalError | sa.InterfaceError | sa.TimeoutError
                      | sa.DisconnectionError):
            return True
        if isinstance(current, sa.DBAPIError) and current.connection_invalidated:
            return True
        if type(current).__module__.startswith("asyncpg") and type(current).__name__ in _ASYNCPG_AWAY:
            return True
        if isinstance(current, OSError | TimeoutError) and _raised_by_a_driver(current):
            return True  # asyncpg's connect raises ConnectionRefusedError itself
        current = current.__cause__ or current.__context__
    return False


_ASYNCPG_AWAY = {"ConnectionDoesNotExistError", "InterfaceError", "PostgresConnectionError", "CannotConnectNowError",
                 "AdminShutdownError", "CrashShutdownError", "ConnectionFailureError", "TooManyConnectionsError"}


def _raised_by_a_driver(error: BaseException) -> bool:
    trace = error.__traceback__
    while trace is not None:
        if str(trace.tb_frame.f_globals.get("__name__", "")).startswith(("sqlalchemy", "asyncpg", "aiosqlite")):
            return True
        trace = trace.tb_next
    return False


async def while_unavailable_retry(operation: Callable[[], Awaitable[T]], *, patience: float = 300.0,
                                  what: str = "a write") -> T:
    """Run a database operation, retrying while the database is away (up to `patience` seconds).
    For records of something that already happened outside (a post Teams accepted): dropping
    the record would make Beacon do it again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    delay = 0.2
    while True:
        try:
            return await operation()
        except Exception as error:
            if not database_unavailable(error) or loop.time() > deadline:
                raise
            logging.getLogger("beacon.store").warning("database away during %s; retrying in %.1f s", what, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
