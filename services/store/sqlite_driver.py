"""SQLite through aiosqlite, one thread hop per statement.

aiosqlite runs each sqlite3 call on its connection's own thread and hands the result back to the
event loop: a hop that costs a future, a queue put, a thread wake and a loop wake-up. SQLAlchemy's
aiosqlite adapter makes four per statement (open a cursor, execute, fetch the rows, close the
cursor), and on a busy SQLite instance those hops, not SQLite, were most of a statement's cost.

`connect` opens an aiosqlite connection whose cursors do all four in one hop: the statement runs
and its rows are fetched on the connection's thread, as before, so a long statement still never
holds up the event loop. Plugged in with `create_async_engine(…, async_creator=…)`, SQLAlchemy's
documented hook for a driver-level connection made by the application.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import aiosqlite

Row = tuple[Any, ...]


class OneHopCursor:
    """What SQLAlchemy's adapter uses of an aiosqlite cursor. `execute` runs the statement, reads
    every row it returns and closes the sqlite3 cursor in a single call on the connection's thread;
    the fetches then hand out those rows without another hop."""

    def __init__(self, connection: OneHopConnection):
        self._connection = connection
        self._rows: list[Row] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> OneHopCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._rows = []

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> OneHopCursor:
        run = _run(sql, parameters)
        self._rows, self.description, self.rowcount, self.lastrowid = await self._connection.run(run)
        return self

    async def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> OneHopCursor:
        def run(db: sqlite3.Connection) -> tuple[list[Row], Any, int, int | None]:
            cursor = db.cursor()
            try:
                cursor.executemany(sql, seq_of_parameters)
                return [], cursor.description, cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        self._rows, self.description, self.rowcount, self.lastrowid = await self._connection.run(run)
        return self

    async def fetchall(self) -> list[Row]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Row | None:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Row]:
        size = size or self.arraysize
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def close(self) -> None:
        self._rows = []


def _run(sql: str, parameters: Sequence[Any] | dict[str, Any] | None
         ) -> Callable[[sqlite3.Connection], tuple[list[Row], Any, int, int | None]]:
    def run(db: sqlite3.Connection) -> tuple[list[Row], Any, int, int | None]:
        cursor = db.cursor()
        try:
            if parameters is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, parameters)
            rows = cursor.fetchall() if cursor.description else []
            return rows, cursor.description, cursor.rowcount, cursor.lastrowid
        finally:
            cursor.close()

    return run


class OneHopConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors take one hop per statement (OneHopCursor)."""

    def cursor(self) -> _Opening:  # type: ignore[override]
        return _Opening(OneHopCursor(self))

    def run(self, function: Callable[[sqlite3.Connection], Any]) -> Awaitable[Any]:
        """`function(sqlite3 connection)` on the connection's thread, as aiosqlite runs its calls."""
        return self._execute(function, self._conn)


class _Opening:
    """`connection.cursor()` as aiosqlite answers it: awaitable, and an async context manager;
    opening costs no hop (the sqlite3 cursor is made inside each statement's call)."""

    def __init__(self, cursor: OneHopCursor):
        self._cursor = cursor

    def __await__(self) -> Any:
        return self.__aenter__().__await__()

    async def __aenter__(self) -> OneHopCursor:
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        await self._cursor.close()


def connector(database: str, **kwargs: Any) -> Callable[[], Awaitable[OneHopConnection]]:
    """The `async_creator` for `database` (a path, or a `file:` URI with `uri=True`), with the
    keyword arguments sqlite3.connect takes."""

    async def connect() -> OneHopConnection:
        connection = OneHopConnection(lambda: sqlite3.connect(database, **kwargs), iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite: a stuck query never holds up exit
        return await connection

    return connect
