"""A click whose incident another writer keeps locked too long (a replica that stopped answering
mid-transaction) gives its connection back after the bounded wait and tries again: the note is
applied once the lock is released, once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.clock import FakeClock
from services.deps import Deps
from services.lifecycle import IncidentAction, act_on_incident
from services.store import incidents as incident_store
from services.store.db import session_factory
from services.store.tables import IncidentRow
from services.store.uow import UnitOfWork
from services.verbs import Verb
from tests.integration.helpers import ALICE, declare, payments_config

CONFIG = payments_config({"responder_update_high": "PT1H"})


async def test_a_click_behind_a_lock_held_too_long_tries_again_and_applies_once(engine, monkeypatch):
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; on SQLite one process's writers take turns")
    monkeypatch.setattr(incident_store, "LOCK_WAIT_SECONDS", 0.2)
    deps = Deps(uow=lambda: UnitOfWork(session_factory(engine)), config=CONFIG, clock=FakeClock())
    incident_id = await declare(deps)
    async with engine.connect() as stuck:  # another writer holds the incident's row, then lets go
        await stuck.execute(select(IncidentRow.id).where(IncidentRow.id == incident_id).with_for_update())
        click = asyncio.ensure_future(act_on_incident(
            IncidentAction(Verb.NOTE, incident_id, None, {"note": "Failover started"}, ALICE, activity_id="a1"), deps))
        await asyncio.sleep(0.6)  # long enough for the click to give up waiting at least once
        assert not click.done()
        await stuck.rollback()
    outcome = await asyncio.wait_for(click, 10)
    assert outcome.applied
    async with deps.uow() as uow:
        notes = [e.summary for e in await uow.timeline.of(incident_id) if e.kind == "note"]
    assert notes == ["Failover started"]
