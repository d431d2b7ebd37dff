"""What a started Beacon carries: the libraries of an integration it does not use, of the migration
step, and of the report renderer are not loaded until something needs them (each is 100 modules or
more, and matplotlib with fpdf2 about 60 MB resident)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.stall import ROOT

OPTIONAL = ("alembic", "icalendar", "recurring_ical_events", "msgraph", "kiota_", "matplotlib", "fpdf")

STARTED = """
import asyncio, sys
from aiohttp import web
import app
from services.settings import Settings

async def main():
    runner = web.AppRunner(app.create_app(Settings()))
    await runner.setup()  # migrations, warm-up, the background loops: what `python app.py` does before serving
    loaded = sorted({name.split(".")[0] for name in sys.modules if name.startswith(OPTIONAL)})
    await runner.cleanup()
    print("loaded:" + ",".join(loaded))

OPTIONAL = OPTIONAL_NAMES
asyncio.run(main())
"""


def started_beacon_loads(database: Path) -> set[str]:
    code = STARTED.replace("OPTIONAL_NAMES", repr(OPTIONAL))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
                                 "BEACON_CONFIG": str(ROOT / "config" / "beacon.yaml")})
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = result.stdout.strip().splitlines()[-1].removeprefix("loaded:")
    return set(filter(None, loaded.split(",")))


@pytest.mark.slow  # starts Beacon twice in a fresh interpreter
def test_a_started_beacon_without_graph_feeds_or_reports_does_not_load_their_libraries(tmp_path):
    database = tmp_path / "beacon.db"
    assert "alembic" in started_beacon_loads(database)  # a new database: the migrations run
    assert started_beacon_loads(database) == set()  # restarted on an up-to-date one: nothing to migrate
