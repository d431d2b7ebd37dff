"""One database transaction: the incident change, its timeline events and its outbox rows commit
together or not at all.

The unit of work carries the repositories (as cosmicpython's does): `uow.incidents`,
`uow.timeline`, `uow.outbox`, `uow.timers`, `uow.threads`, `uow.installations`,
`uow.teams_problems`, `uow.teams_pacing`, `uow.people` and `uow.activities` (invokes already
applied) for the core,
and the integrations' stores the same way (`uow.bridges`, `uow.alerts`, `uow.tickets`,
`uow.reported_issues`, `uow.reviews`, `uow.oncall_overrides`, `uow.paging_metrics`,
`uow.status_pages`, `uow.channels`). Each is made
on first use, for this transaction; nothing outside the store modules touches the session.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.errors import ConcurrentUpdate
from services.store.conversations import Installations, TeamsProblems, Threads
from services.store.db import take_the_writer_turn
from services.store.dialect import is_postgresql, lost_a_lock_wait
from services.store.incidents import Incidents, Timeline
from services.store.outbox import ExpressLane, Outbox
from services.store.pacing import TeamsPacing
from services.store.people import Activities, People
from services.store.teams import Roster, TeamChannels
from services.store.timers import Timers

if TYPE_CHECKING:
    from services.bridge.store import BridgeStore
    from services.channels.store import IncidentChannels
    from services.intake.alert_store import AlertStore
    from services.intake.store import ReportedIssues, TicketLinks
    from services.paging.metrics import PagingMetrics
    from services.paging.store import OncallOverrides
    from services.review.store import ReviewStore
    from services.status_page.store import StatusPages
    from services.status_page.subscribers import StatusSubscriptions


class UnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 on_outbox: Callable[[], None] | None = None, on_timers: Callable[[], None] | None = None,
                 express: ExpressLane | None = None):
        self._sessions = sessions
        self._on_outbox = on_outbox  # wakes the outbox worker
        self._on_timers = on_timers  # wakes the scheduler
        self.express = express  # where pages go once this commits (services.store.outbox)
        self._queued = self._timers_moved = False
        self._after_commit: list[Callable[[], None]] = []
        self.session: AsyncSession

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        await self.session.begin()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self.session.in_transaction():
            # Keep what was read usable after a read-only unit of work (rollback would expire it).
            self.session.expunge_all()
            await self.session.rollback()
        await self.session.close()
        if exc is not None and lost_a_lock_wait(exc):
            # PostgreSQL broke a deadlock or a lock wait ran out: like a lost race, judge again.
            raise ConcurrentUpdate(f"gave up waiting for a lock ({exc.__class__.__name__})") from exc

    async def write_first(self) -> None:
        """On SQLite, take the writer's turn now, before reading: what is read cannot change before
        this unit of work commits. PostgreSQL keeps optimistic locking (ConcurrentUpdate), unless
        the incident is read with `incidents.get_to_change`."""
        await take_the_writer_turn(self.session)

    @property
    def writes_one_at_a_time(self) -> bool:
        """True on SQLite, where a writing unit of work holds the process's one writer turn until
        it ends: reads it makes after its change, before the commit, cost no other connection and
        keep the writers in order. On PostgreSQL a change holds only its rows' locks, which other
        writers wait for, so reads that can wait for the commit should."""
        return not is_postgresql(self.session)

    def wake_on_commit(self) -> None:
        """Something was queued: wake the outbox worker once this commits."""
        self._queued = True

    def wake_scheduler_on_commit(self) -> None:
        """A timer was armed or moved: wake the scheduler once this commits (only then: a change
        that moved no timer costs the scheduler no look at the timers)."""
        self._timers_moved = True

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this transaction has committed (not if it rolls back)."""
        self._after_commit.append(callback)

    async def flush(self) -> None:
        """Write what is pending now, inside the transaction (to read it back, or to meet a unique
        constraint here rather than at the commit)."""
        await self.session.flush()

    async def commit(self) -> None:
        await self.session.commit()
        for callback in self._after_commit:
            callback()
        self._after_commit.clear()
        if self._queued and self._on_outbox:
            self._on_outbox()
        if self._timers_moved and self._on_timers:
            self._on_timers()
        self._queued = self._timers_moved = False

    # -- the core's repositories -------------------------------------------------------------
    @cached_property
    def incidents(self) -> Incidents:
        return Incidents(self)

    @cached_property
    def timeline(self) -> Timeline:
        return Timeline(self)

    @cached_property
    def outbox(self) -> Outbox:
        return Outbox(self)

    @cached_property
    def timers(self) -> Timers:
        return Timers(self)

    @cached_property
    def threads(self) -> Threads:
        return Threads(self)

    @cached_property
    def installations(self) -> Installations:
        return Installations(self)

    @cached_property
    def teams_problems(self) -> TeamsProblems:
        return TeamsProblems(self)

    @cached_property
    def teams_pacing(self) -> TeamsPacing:
        return TeamsPacing(self)

    @cached_property
    def people(self) -> People:
        return People(self)

    @cached_property
    def activities(self) -> Activities:
        return Activities(self)

    # -- what Teams told Beacon about the teams it is in: their channels, and who is in them ------
    @cached_property
    def team_channels(self) -> TeamChannels:
        return TeamChannels(self)

    @cached_property
    def roster(self) -> Roster:
        return Roster(self)

    # -- the integrations' stores (imported on first use: the store does not depend on them) ---
    @cached_property
    def bridges(self) -> BridgeStore:
        from services.bridge.store import BridgeStore

        return BridgeStore(self)

    @cached_property
    def channels(self) -> IncidentChannels:
        from services.channels.store import IncidentChannels

        return IncidentChannels(self)

    @cached_property
    def alerts(self) -> AlertStore:
        from services.intake.alert_store import AlertStore

        return AlertStore(self)

    @cached_property
    def tickets(self) -> TicketLinks:
        from services.intake.store import TicketLinks

        return TicketLinks(self)

    @cached_property
    def reported_issues(self) -> ReportedIssues:
        from services.intake.store import ReportedIssues

        return ReportedIssues(self)

    @cached_property
    def reviews(self) -> ReviewStore:
        from services.review.store import ReviewStore

        return ReviewStore(self)

    @cached_property
    def oncall_overrides(self) -> OncallOverrides:
        from services.paging.store import OncallOverrides

        return OncallOverrides(self)

    @cached_property
    def status_pages(self) -> StatusPages:
        from services.status_page.store import StatusPages

        return StatusPages(self)

    @cached_property
    def status_subscriptions(self) -> StatusSubscriptions:
        from services.status_page.subscribers import StatusSubscriptions

        return StatusSubscriptions(self)

    @cached_property
    def paging_metrics(self) -> PagingMetrics:
        from services.paging.metrics import PagingMetrics

        return PagingMetrics(self)
