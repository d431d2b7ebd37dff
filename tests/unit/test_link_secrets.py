"""The signed links' secrets at start-up: a random one is for a single process, and on PostgreSQL,
where several replicas can run, the start-up notes say it must be set."""

from __future__ import annotations

from bot.wiring import link_signing
from services.settings import Settings

POSTGRESQL = "postgresql+asyncpg://beacon:pw@db.example:5432/beacon"


def test_an_unset_secret_is_random_and_the_notes_say_what_that_costs() -> None:
    notes: list[str] = []
    settings = Settings(_env_file=None, DATABASE_URL="sqlite+aiosqlite:///beacon.db")  # type: ignore[call-arg]
    first, _ = link_signing(settings, "", "REPORT_LINK_SECRET", "report links", notes)
    second, _ = link_signing(settings, "", "REPORT_LINK_SECRET", "report links", [])
    assert first != second and len(first) >= 32
    assert "stop working when Beacon restarts" in notes[0] and "PostgreSQL" not in notes[0]


def test_on_postgresql_the_notes_say_it_must_be_set() -> None:
    notes: list[str] = []
    settings = Settings(_env_file=None, DATABASE_URL=POSTGRESQL)  # type: ignore[call-arg]
    link_signing(settings, "", "ACK_LINK_SECRET", "acknowledge links", notes)
    assert ("DATABASE_URL is PostgreSQL, where several replicas can run: set it (the same on every replica), "
            "`python app.py doctor` fails until it is") in notes[0]
    notes.clear()
    assert link_signing(settings, "shared-secret-value", "ACK_LINK_SECRET", "acknowledge links", notes)[0] == \
        "shared-secret-value"
    assert not [n for n in notes if "ACK_LINK_SECRET" in n]


def test_only_postgresql_counts_as_several_replicas() -> None:
    for url, replicas in ((POSTGRESQL, True), ("postgresql://beacon@db/beacon", True),
                          ("sqlite+aiosqlite:///beacon.db", False), ("not a url", False)):
        assert Settings(_env_file=None, DATABASE_URL=url).can_run_replicas is replicas, url  # type: ignore[call-arg]
