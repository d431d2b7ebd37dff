"""SIGTERM to a busy Beacon: an orderly stop, so its log holds no ERROR and no traceback.

An operator's log alerting fires on ERROR; a rolling deploy stops every replica with SIGTERM, so a
stop that logs a cancelled database connection or task as an error would page someone on each deploy.
The process is made busy first: a slow Teams holds deliveries in flight, timed updates and
reminders fall due every second, and the grace period is shorter than Teams' answers, so the stop
has to cut work short; alerts keep arriving while it stops.
"""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import pytest
from sqlalchemy import text

from services.store.db import create_engine
from tests.e2e.test_crash import TOKEN, schedule_config, storm
from tests.fakes.connector import FakeConnector
from tests.processes import BeaconProcess
from tests.teams_activities import installation_update

pytestmark = pytest.mark.slow

ERROR_LINE = re.compile(r"\bERROR\b|Traceback|CancelledError")


@pytest.mark.parametrize("grace", ["0.2", "3"])
async def test_sigterm_while_busy_exits_cleanly_and_logs_no_error(tmp_path: Path, database_url: str,
                                                                   grace: str) -> None:
    async with FakeConnector() as teams:
        beacon = BeaconProcess(tmp_path, database_url, schedule_config(), ALERTS_WEBHOOK_TOKEN=TOKEN,
                               LOG_LEVEL="INFO", SHUTDOWN_GRACE_SECONDS=grace)
        try:
            await beacon.start()
            status, _ = await beacon.post("/api/messages", installation_update(service_url=teams.url))
            assert status in (200, 201)
            acknowledged, _ = await storm(beacon, [(n, n) for n in range(4)], concurrency=4)
            assert len(acknowledged) == 4
            await asyncio.sleep(1.5)  # cards, reminders and automatic updates going out
            teams.slow_down(1.0)  # from now on every Teams call is in flight for a second
            await asyncio.sleep(1.5)
            assert teams.requests, "Beacon sent nothing to Teams: it was not busy"
            # monitoring keeps posting while the stop begins: some requests are mid-transaction
            arriving = asyncio.create_task(storm(beacon, [(n % 4, 100 + n) for n in range(200)], concurrency=8))
            await asyncio.sleep(0.3)
            await beacon.stop()
            await arriving
            assert beacon.process is not None
            assert beacon.process.returncode == 0, beacon.log()[-3000:]
            errors = [line for line in beacon.log().splitlines() if ERROR_LINE.search(line)]
            assert errors == [], "\n".join(errors[:20]) + "\n---\n" + beacon.log()[-4000:]
        finally:
            await beacon.close()


@pytest.mark.parametrize("table", ["outbox", "timers", "review_timers"])
async def test_sigterm_while_work_waits_on_a_locked_table_logs_no_error(tmp_path: Path, database_url: str,
                                                                         table: str) -> None:
    """The grace period ends while deliveries, timed updates or reminders wait on a lock another
    replica holds: their work is cut short (another replica or the next start does it) quietly."""
    if not database_url.startswith("postgresql"):
        pytest.skip("table locks that make a query wait are PostgreSQL's")
    async with FakeConnector() as teams:
        beacon = BeaconProcess(tmp_path, database_url, schedule_config(), ALERTS_WEBHOOK_TOKEN=TOKEN,
                               LOG_LEVEL="INFO", SHUTDOWN_GRACE_SECONDS="0.5")
        engine = create_engine(database_url)
        try:
            await beacon.start()
            await beacon.post("/api/messages", installation_update(service_url=teams.url))
            acknowledged, _ = await storm(beacon, [(n, n) for n in range(4)], concurrency=4)
            assert len(acknowledged) == 4
            await asyncio.sleep(1.5)
            teams.slow_down(0.5)
            await asyncio.sleep(0.7)
            async with engine.connect() as other_replica:
                await other_replica.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
                await asyncio.sleep(1.0)
                assert beacon.process is not None
                beacon.process.send_signal(signal.SIGTERM)
                await asyncio.sleep(2.0)
                await other_replica.rollback()
            await asyncio.to_thread(beacon.process.wait, 30)
            assert beacon.process.returncode == 0, beacon.log()[-3000:]
            errors = [line for line in beacon.log().splitlines() if ERROR_LINE.search(line)]
            assert errors == [], "\n".join(errors[:20]) + "\n---\n" + beacon.log()[-4000:]
        finally:
            await beacon.close()
            await engine.dispose()
