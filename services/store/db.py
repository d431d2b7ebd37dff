"""Engine creation and migrations, for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import ast
import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import event, exc, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from services.store import sqlite_driver

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str) -> AsyncEngine:
    if is_sqlite(url):
        # One writer at a time on SQLite: wait for the lock rather than fail, and use WAL so
        # readers are not blocked by the writer.
        engine = create_async_engine(url, async_creator=_sqlite_connector(url))

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        _one_writer_at_a_time(engine)
        return engine
    engine = create_async_engine(url, pool_size=10, max_overflow=10)
    _ping_after_idle(engine)
    return engine


# A pooled PostgreSQL connection idle this long is checked before it is handed out.
PING_AFTER_IDLE = 1.0


def _ping_after_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection before use only if it has sat idle in the pool (PING_AFTER_IDLE):
    one the database dropped while idle (a restart, a failover, an idle timeout) is replaced and
    the rest of the pool with it, as `pool_pre_ping` would. That option checks every checkout,
    and asyncpg's check is three round trips (BEGIN, a statement, ROLLBACK): about 0.2 ms of
    the process's time on each unit of work, a click's included, for a connection that was
    working a moment ago. A connection that breaks while in use fails its statement whatever the
    check, and that disconnect invalidates the whole pool."""
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _check(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE:
            return  # just opened, or back in the pool a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.InvalidatePoolError() from error  # the pool replaces it, and the others
            raise


def _sqlite_connector(url: str) -> Callable[[], Awaitable[Any]]:
    """SQLite's connections, opened with the arguments SQLAlchemy would give sqlite3 for `url`, as
    sqlite_driver's one-hop aiosqlite connections."""
    parsed = make_url(url)
    args, kwargs = parsed.get_dialect()().create_connect_args(parsed)
    return sqlite_driver.connector(*args, **{**kwargs, "timeout": 30})


WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_WRITE_AFTER_CTE = re.compile(r"\)\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _writes(statement: str) -> bool:
    """Whether a statement writes: by its first word, or, after WITH … AS (…), by the statement
    the common table expressions lead into (the outbox claims with WITH … UPDATE)."""
    head = statement.lstrip()[:7].upper()
    return head.startswith(WRITES) or (head.startswith("WITH") and _WRITE_AFTER_CTE.search(statement) is not None)


_WRITER_LOCKS: WeakKeyDictionary[Engine, asyncio.Lock] = WeakKeyDictionary()


async def take_the_writer_turn(session: AsyncSession) -> None:
    """On SQLite, wait for this process's writer lock now, before the reads that must not change
    under the transaction, rather than at its first write; keep it until the transaction ends. No
    lost race to retry, and no SQL round trip is spent on it. No-op on PostgreSQL."""
    lock = _WRITER_LOCKS.get(session.get_bind())  # type: ignore[arg-type]
    if lock is None:
        return
    connection = await (await session.connection()).get_raw_connection()
    record = connection._connection_record
    if record is None or record.info.get("writer"):
        return
    await _writer_lock(lock)
    record.info["writer"] = True


async def _writer_lock(lock: asyncio.Lock) -> None:
    try:
        await asyncio.wait_for(lock.acquire(), timeout=30)
    except TimeoutError:
        raise DatabaseUnavailable("waited 30 s for SQLite's writer lock") from None


def _one_writer_at_a_time(engine: AsyncEngine) -> None:
    """SQLite lets one transaction write at a time; the others retry on SQLITE_BUSY with sleeps
    of up to 100 ms, in no particular order, so under load a click could wait seconds while
    later ones went first. Queue this process's writers instead: the first write statement of a
    transaction waits (first come, first served) for an asyncio lock, held until the connection
    goes back to the pool after its commit or rollback."""
    lock = asyncio.Lock()
    _WRITER_LOCKS[engine.sync_engine] = lock

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _wait_for_the_writer_lock(conn: Connection, cursor: Any, statement: str, *_: Any) -> None:
        record = conn.connection._connection_record
        if record is None or record.info.get("writer") or not _writes(statement):
            return
        conn.connection.dbapi_connection.run_async(lambda _: _writer_lock(lock))  # type: ignore[union-attr]
        record.info["writer"] = True

    def _release(record: Any) -> None:
        if record is not None and record.info.pop("writer", False):
            lock.release()

    pool = engine.sync_engine.pool

    @event.listens_for(pool, "reset")
    def _on_reset(dbapi_connection: Any, record: Any, reset_state: Any) -> None:
        _release(record)

    @event.listens_for(pool, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        _release(record)

    @event.listens_for(pool, "invalidate")
    def _on_invalidate(dbapi_connection: Any, record: Any, exception: Any) -> None:
        _release(record)

    @event.listens_for(pool, "soft_invalidate")
    def _on_soft_invalidate(dbapi_connection: Any, record: Any, exception: Any) -> None:
        _release(record)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@functools.cache
def _script_heads() -> frozenset[str] | None:
    """The newest revisions of the migration scripts, read from their `revision` and `down_revision`
    literals without loading alembic (about 140 modules and 10 MB that a started Beacon never needs
    again). None when a script is not that plain: alembic then reads them itself."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        found: dict[str, Any] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                if name in ("revision", "down_revision", "depends_on"):
                    try:
                        found[name] = ast.literal_eval(node.value)
                    except (ValueError, TypeError, SyntaxError):  # not a literal
                        return None
        down = found.get("down_revision")
        downs = (down,) if isinstance(down, str) else tuple(down or ())
        if not isinstance(found.get("revision"), str) or found.get("depends_on") is not None \
                or not all(isinstance(d, str) for d in downs):
            return None
        revisions.add(found["revision"])
        parents.update(downs)
    return frozenset(revisions - parents) or None


def _applied(connection: Connection) -> set[str]:
    """The revisions the database is at (alembic's own table), none on a new database."""
    if not inspect(connection).has_table("alembic_version"):
        return set()
    return {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}


def _up_to_date(connection: Connection) -> bool:
    heads = _script_heads()
    if heads is None:
        current, script = _current_heads(connection)
        return current == script
    return _applied(connection) == heads


def _upgrade(connection: Connection) -> None:
    heads = _script_heads()
    if heads is not None and _applied(connection) == heads:
        return  # nothing pending: alembic is not even loaded
    from alembic import command

    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "heads")


async def migrate(engine: AsyncEngine) -> None:
    """Apply every pending migration. Several replicas starting at once take turns on PostgreSQL."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(727274)"))
        await connection.run_sync(_upgrade)


def _current_heads(connection: Connection) -> tuple[set[str], set[str]]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    context = MigrationContext.configure(connection)
    script = ScriptDirectory.from_config(_alembic_config())
    return set(context.get_current_heads()), set(script.get_heads())


async def migrations_applied(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        return await asyncio.wait_for(connection.run_sync(_up_to_date), timeout=5)


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
