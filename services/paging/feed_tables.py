"""The cached iCalendar feeds of on-call schedules (migration 0010_oncall_feeds): the last good copy
of each schedule's feed, kept while a fetch fails, so a restart or another replica pages from it
before fetching again."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Integer, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from services.store.tables import Base, UtcDateTime

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork


class FeedRow(Base):
    __tablename__ = "oncall_feeds"
    schedule: Mapped[str] = mapped_column(String(200), primary_key=True)
    url: Mapped[str] = mapped_column(Text, nullable=False)  # the copy is of this URL: a changed URL starts over
    body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # the last good copy
    etag: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    last_modified: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    fetched_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)  # when the copy was good
    checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)  # the latest attempt
    error: Mapped[str] = mapped_column(Text, nullable=False, default="")  # why the latest attempt failed
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # attempts failed in a row


class FeedCopies:
    """The feeds' rows inside a unit of work (`FeedCopies(uow)`); the caller commits."""

    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def all(self) -> dict[str, FeedRow]:
        return {row.schedule: row for row in await self._uow.session.scalars(select(FeedRow))}

    async def get(self, schedule: str) -> FeedRow | None:
        return await self._uow.session.get(FeedRow, schedule)

    async def save(self, row: FeedRow) -> None:
        await self._uow.session.merge(row)
