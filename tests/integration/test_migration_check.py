"""Whether the database is migrated (start-up, /readyz, doctor) is answered without loading alembic,
from the heads written in the migration scripts, and agrees with alembic."""

from __future__ import annotations

from sqlalchemy import text

from services.store.db import _alembic_config, _script_heads, create_engine, migrate, migrations_applied


def test_the_heads_read_from_the_scripts_are_alembics():
    from alembic.script import ScriptDirectory

    assert _script_heads() == set(ScriptDirectory.from_config(_alembic_config()).get_heads())


async def test_a_new_database_is_pending_a_migrated_one_is_ready_and_one_behind_is_pending(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/beacon.db")
    try:
        assert not await migrations_applied(engine)
        await migrate(engine)
        assert await migrations_applied(engine)
        async with engine.begin() as connection:
            head = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
            await connection.execute(text("UPDATE alembic_version SET version_num = '0028_dedicated_channels'"))
        assert not await migrations_applied(engine)
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        await migrate(engine)  # nothing pending
        assert await migrations_applied(engine)
    finally:
        await engine.dispose()
