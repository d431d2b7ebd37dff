"""The email subscriptions of clients' status pages inside the caller's unit of work
(`uow.status_subscriptions`). A subscription changes state only by a compare-and-set on the row,
so two requests at once (two clicks on a confirmation link, two subscribe forms) do one thing.

A client's cap (STATUS_SUBSCRIBERS_PER_CLIENT) is written here only, in SQL: the statement that
counts a confirmation email refuses when the client has as many subscriptions as it takes, and
the subscriptions of one client take turns on its status link's row, so two at once never both
take the last place."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, bindparam, func, or_, select, update
from sqlalchemy.orm import aliased

from services.status_page.tables import StatusLinkRow, StatusSubscriptionRow
from services.store.dialect import insert_if_new, lock_what_it_reads

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork

PENDING, CONFIRMED, UNSUBSCRIBED = "pending", "confirmed", "unsubscribed"


# A client's status link, locked while a confirmation is counted against the client's cap.
_LINK_OF_CLIENT = select(StatusLinkRow).where(StatusLinkRow.client == bindparam("client"))


class SubscriptionsFull(Exception):
    """The client's status page has as many subscriptions as it takes: nothing was counted."""


def _counts(rows: type[StatusSubscriptionRow], generation: int, now: datetime,
            pending_for: timedelta) -> ColumnElement[bool]:
    """Whether a subscription counts against its client's cap: made through the current link, and
    confirmed, or pending with a confirmation link that still works."""
    return (rows.generation == generation) & or_(
        rows.state == CONFIRMED, (rows.state == PENDING) & (rows.last_confirmation_at >= now - pending_for))


class StatusSubscriptions:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def get(self, subscription: int) -> StatusSubscriptionRow | None:
        return await self._uow.session.get(StatusSubscriptionRow, subscription, populate_existing=True)

    async def find(self, client: str, address: str) -> StatusSubscriptionRow | None:
        return await self._uow.session.scalar(
            select(StatusSubscriptionRow).where(StatusSubscriptionRow.client == client,
                                                StatusSubscriptionRow.address == address)
            .execution_options(populate_existing=True))

    async def of_address(self, client: str, address: str, generation: int, now: datetime) -> StatusSubscriptionRow:
        """The client's row of this address; a new pending one if there was none (if-new, so two
        first subscriptions at once make one row)."""
        await self._uow.session.execute(insert_if_new(self._uow.session, StatusSubscriptionRow), {
            "client": client, "address": address, "state": PENDING, "generation": generation, "created_at": now,
            "confirmations_sent": 0})
        row = await self.find(client, address)
        assert row is not None
        return row

    async def confirmations_since(self, client: str, since: datetime) -> int:
        return int(await self._uow.session.scalar(select(func.count()).where(
            StatusSubscriptionRow.client == client, StatusSubscriptionRow.last_confirmation_at >= since)) or 0)

    async def _change(self, row: StatusSubscriptionRow, *also: ColumnElement[bool], **values: Any) -> bool:
        """Apply `values` if the row is still as read (state and confirmations sent) and `also` holds."""
        result = await self._uow.session.execute(
            update(StatusSubscriptionRow).where(StatusSubscriptionRow.id == row.id,
                                                StatusSubscriptionRow.state == row.state,
                                                StatusSubscriptionRow.confirmations_sent == row.confirmations_sent,
                                                *also)
            .values(**values).execution_options(synchronize_session=False))
        return bool(getattr(result, "rowcount", 0))

    async def ask_confirmation(self, row: StatusSubscriptionRow, generation: int, now: datetime, *, cap: int,
                               pending_for: timedelta) -> int | None:
        """Count one more confirmation email for a pending (or ended) subscription, made through
        the link of `generation`, whose confirmation link works for `pending_for`; returns its
        number, or None when another request counted it first. Raises SubscriptionsFull, counting
        nothing, when the subscription does not count against the client's cap yet and `cap`
        others do."""
        await lock_what_it_reads(self._uow.session, _LINK_OF_CLIENT, {"client": row.client})
        others = aliased(StatusSubscriptionRow)
        taken = (select(func.count()).select_from(others)
                 .where(others.client == row.client, _counts(others, generation, now, pending_for)).scalar_subquery())
        seen = (row.state, row.confirmations_sent)
        number = row.confirmations_sent + 1
        if await self._change(row, _counts(StatusSubscriptionRow, generation, now, pending_for) | (taken < cap),
                              state=PENDING, generation=generation, confirmations_sent=number,
                              last_confirmation_at=now, confirmed_at=None, ended_at=None):
            return number
        after = await self.get(row.id)
        if after is not None and (after.state, after.confirmations_sent) == seen:
            raise SubscriptionsFull(row.client)
        return None

    async def confirm(self, row: StatusSubscriptionRow, now: datetime) -> bool:
        return await self._change(row, state=CONFIRMED, confirmed_at=now)

    async def end(self, row: StatusSubscriptionRow, now: datetime) -> bool:
        return await self._change(row, state=UNSUBSCRIBED, ended_at=now)

    async def receiving(self, client: str) -> list[StatusSubscriptionRow]:
        """The client's confirmed subscriptions made through its current status link (a revoke
        ends those made through earlier links)."""
        return list(await self._uow.session.scalars(
            select(StatusSubscriptionRow).join(StatusLinkRow, StatusLinkRow.client == StatusSubscriptionRow.client)
            .where(StatusSubscriptionRow.client == client, StatusSubscriptionRow.state == CONFIRMED,
                   StatusSubscriptionRow.generation == StatusLinkRow.generation)
            .order_by(StatusSubscriptionRow.id)))
