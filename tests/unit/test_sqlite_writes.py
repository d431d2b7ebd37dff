"""Which statements queue for SQLite's one writer (services/store/db.py): a claim written as
WITH … UPDATE must wait its turn like any UPDATE, or it meets the other writers in SQLite's busy
handler instead of in order."""

from services.store.db import _writes


def test_plain_writes_and_writes_after_common_table_expressions_queue_for_the_writer():
    assert _writes("  insert into outbox (id) values (?)")
    assert _writes("UPDATE incidents SET version=? WHERE id=?")
    assert _writes("WITH due_ids AS \n(SELECT outbox_1.id AS id FROM outbox AS outbox_1 LIMIT ?)\n"
                   " UPDATE outbox SET status=? FROM due_ids WHERE outbox.id = due_ids.id RETURNING id")


def test_reads_do_not():
    assert not _writes("SELECT * FROM incidents WHERE id = ?")
    assert not _writes("WITH recent AS (SELECT id FROM timeline_events) SELECT count(*) FROM recent")
    assert not _writes("SELECT 'UPDATE' AS word")
