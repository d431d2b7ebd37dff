"""Where SQLite and PostgreSQL differ, in one place: row locks, advisory locks, lock waits,
insert-if-new, and time arithmetic in SQL (for the metrics' aggregates).

PostgreSQL runs several replicas against one database: rows are claimed FOR UPDATE SKIP LOCKED,
read for a write FOR UPDATE, and whole intakes serialised by advisory locks. SQLite serves one
process, whose writers already take turns on one lock (db.take_the_writer_turn), so these are
no-ops there. Insert-if-new statements exist in both dialects but are built by each one's own
`insert`; they are built once per table, since building one per call costs more than running it.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Select, Table, extract, func, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

Q = TypeVar("Q", bound=Select[Any])
_BUILDERS: dict[str, Any] = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}
_INSERT_IF_NEW: dict[tuple[str, Table], Any] = {}


def is_postgresql(bound: AsyncSession | AsyncEngine | AsyncConnection) -> bool:
    if isinstance(bound, AsyncSession):
        return bool(bound.get_bind().dialect.name == "postgresql")
    return bool(bound.dialect.name == "postgresql")


def lock_rows(query: Q, session: AsyncSession, *, skip_locked: bool = False) -> Q:
    """Lock what the query reads until the commit, on PostgreSQL (with `skip_locked`, rows another
    replica holds are passed over rather than waited for)."""
    if is_postgresql(session):
        return cast(Q, query.with_for_update(skip_locked=skip_locked))
    return query


def lock_built_once(query: Q, session: AsyncSession) -> Q:
    """lock_rows for a statement built once at import (a module constant whose values are bound
    per call): its FOR UPDATE form is built once too (building a statement costs more than
    running it). Never pass a statement built per call: each would be kept."""
    return _for_update(query) if is_postgresql(session) else query


@functools.cache
def _for_update(query: Any) -> Any:
    return query.with_for_update()


async def lock_what_it_reads(session: AsyncSession, query: Select[Any], params: dict[str, Any]) -> None:
    """Lock the rows a query built once reads (values in `params`) until the commit, reading nothing
    back (PostgreSQL; on SQLite the writer's turn already excludes every other writer, so no
    statement is sent)."""
    if is_postgresql(session):
        await session.execute(_for_update(query), params)


async def wait_for_locks_at_most(session: AsyncSession, seconds: float) -> None:
    """Until the commit, a statement that waits longer than `seconds` for a lock fails instead
    (PostgreSQL): a writer stuck behind a replica that stopped answering gives its connection back
    rather than keep it while others queue for the pool."""
    if is_postgresql(session):
        await session.execute(_lock_timeout(int(seconds * 1000)))


@functools.cache
def _lock_timeout(milliseconds: int) -> Any:
    return text(f"SET LOCAL lock_timeout = {milliseconds}")


# PostgreSQL's SQLSTATEs for a transaction that lost a wait for a lock: deadlock_detected and
# lock_not_available (lock_timeout or NOWAIT). Retrying the transaction is the remedy for both.
_LOST_LOCK_WAIT = frozenset({"40P01", "55P03"})


def lost_a_lock_wait(error: BaseException) -> bool:
    """Whether a database error means the transaction gave up waiting for a lock (PostgreSQL)."""
    original = getattr(error, "orig", None)
    return str(getattr(original, "sqlstate", "") or getattr(original, "pgcode", "")) in _LOST_LOCK_WAIT


async def advisory_lock(session: AsyncSession, key: int) -> None:
    """One transaction at a time across replicas for `key`, until the commit (PostgreSQL)."""
    if is_postgresql(session):
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


async def try_advisory_lock(session: AsyncSession, key: int) -> bool:
    """Like advisory_lock, without waiting: False when another transaction holds `key`
    (PostgreSQL; always True on SQLite, whose one writer already takes turns)."""
    if not is_postgresql(session):
        return True
    return bool(await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}))


def insert_if_new(session: AsyncSession, entity: type[Any]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for a table, in the session's dialect, built once."""
    table = cast(Table, entity.__table__)
    name = session.get_bind().dialect.name
    statement = _INSERT_IF_NEW.get((name, table))
    if statement is None:
        statement = _INSERT_IF_NEW[name, table] = _BUILDERS[name](table).on_conflict_do_nothing()
    return statement


def seconds_between(session: AsyncSession, later: Any, earlier: Any) -> ColumnElement[float]:
    """SQL for the seconds from `earlier` to `later` (two timestamp columns). SQLite's is a
    difference of julianday() doubles: exact to about a millisecond."""
    if is_postgresql(session):
        return cast(ColumnElement[float], extract("epoch", later - earlier))
    return cast(ColumnElement[float], (func.julianday(later) - func.julianday(earlier)) * 86400.0)


def utc_day(session: AsyncSession, at: Any) -> ColumnElement[str]:
    """SQL for the UTC calendar day of a timestamp column, as YYYY-MM-DD text."""
    if is_postgresql(session):
        return cast(ColumnElement[str], func.to_char(func.timezone("UTC", at), "YYYY-MM-DD"))
    return cast(ColumnElement[str], func.date(at))
