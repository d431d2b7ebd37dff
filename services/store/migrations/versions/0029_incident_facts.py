"""incident facts: per incident, what the response metrics read (priority, declaration, drill,
acknowledged, first mitigated and resolved at, status updates on time, late and automatic), kept by
the database in the transaction of each change, and filled in from the existing incidents and
timelines; and the same facts summed per UTC day of declaration and priority, so that a scrape
reads at most 90 days of sums per priority

The sums are kept in one row per day, priority and writer (`slot`): on PostgreSQL the writer is the
server process of the connection (pg_backend_pid()), which runs one transaction at a time, so no
two transactions ever write the same row of sums: changes of incidents declared the same day never
wait for one another, and a re-assessment that moves an incident between two priorities locks only
rows no one else writes (no deadlock). SQLite has one writer at a time anyway: slot 0. A scrape adds
up the slots.

Revision ID: 0029_incident_facts
Revises: 0028_dedicated_channels
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from services.review.report import MITIGATED

revision = "0029_incident_facts"
down_revision = "0028_dedicated_channels"
branch_labels = None
depends_on = None

BATCH = 5000  # incidents filled in per statement
INCIDENT_FACTS = ("priority", "declared_at", "drill", "acknowledged_at", "resolved_at")
# The statuses whose first one mitigates, as an SQL list (both dialects' triggers): a change of
# MITIGATED needs a migration that creates the triggers again.
MITIGATED_SQL = "(" + ", ".join(f"'{status}'" for status in MITIGATED) + ")"

# The incident's own columns are copied on every insert and on every change of one of them; a
# timeline entry adds to its incident's facts: the first mitigating status, one status update.
SQLITE = [
    """CREATE TRIGGER incident_facts_declared AFTER INSERT ON incidents BEGIN
         INSERT INTO incident_facts (incident_id, priority, declared_at, drill, acknowledged_at, resolved_at)
         VALUES (NEW.id, NEW.priority, NEW.declared_at, NEW.drill, NEW.acknowledged_at, NEW.resolved_at);
       END""",
    """CREATE TRIGGER incident_facts_changed AFTER UPDATE OF priority, declared_at, drill, acknowledged_at, resolved_at
       ON incidents
       WHEN OLD.priority IS NOT NEW.priority OR OLD.declared_at IS NOT NEW.declared_at OR OLD.drill IS NOT NEW.drill
         OR OLD.acknowledged_at IS NOT NEW.acknowledged_at OR OLD.resolved_at IS NOT NEW.resolved_at BEGIN
         UPDATE incident_facts SET priority = NEW.priority, declared_at = NEW.declared_at, drill = NEW.drill,
           acknowledged_at = NEW.acknowledged_at, resolved_at = NEW.resolved_at WHERE incident_id = NEW.id;
       END""",
    f"""CREATE TRIGGER incident_facts_mitigated AFTER INSERT ON timeline_events
       WHEN NEW.kind IN ('status_changed', 'resolved')
         AND json_extract(NEW."after", '$.status') IN {MITIGATED_SQL} BEGIN
         UPDATE incident_facts SET mitigated_at = NEW.at
         WHERE incident_id = NEW.incident_id AND (mitigated_at IS NULL OR julianday(NEW.at) < julianday(mitigated_at));
       END""",
    """CREATE TRIGGER incident_facts_status_update AFTER INSERT ON timeline_events
       WHEN NEW.kind = 'status_update' BEGIN
         UPDATE incident_facts SET
           updates_automatic = updates_automatic + (json_extract(NEW."after", '$.automatic') IS 1),
           updates_late = updates_late + (json_extract(NEW."after", '$.automatic') IS NOT 1
                                          AND json_extract(NEW."after", '$.late') IS 1),
           updates_on_time = updates_on_time + (json_extract(NEW."after", '$.automatic') IS NOT 1
                                                AND json_extract(NEW."after", '$.late') IS NOT 1)
         WHERE incident_id = NEW.incident_id;
       END""",
]

POSTGRESQL = [
    """CREATE FUNCTION incident_facts_declared() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
         INSERT INTO incident_facts (incident_id, priority, declared_at, drill, acknowledged_at, resolved_at)
         VALUES (NEW.id, NEW.priority, NEW.declared_at, NEW.drill, NEW.acknowledged_at, NEW.resolved_at);
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER incident_facts_declared AFTER INSERT ON incidents
       FOR EACH ROW EXECUTE FUNCTION incident_facts_declared()""",
    """CREATE FUNCTION incident_facts_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
         UPDATE incident_facts SET priority = NEW.priority, declared_at = NEW.declared_at, drill = NEW.drill,
           acknowledged_at = NEW.acknowledged_at, resolved_at = NEW.resolved_at WHERE incident_id = NEW.id;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER incident_facts_changed AFTER UPDATE OF priority, declared_at, drill, acknowledged_at, resolved_at
       ON incidents FOR EACH ROW
       WHEN (OLD.priority IS DISTINCT FROM NEW.priority OR OLD.declared_at IS DISTINCT FROM NEW.declared_at
             OR OLD.drill IS DISTINCT FROM NEW.drill OR OLD.acknowledged_at IS DISTINCT FROM NEW.acknowledged_at
             OR OLD.resolved_at IS DISTINCT FROM NEW.resolved_at)
       EXECUTE FUNCTION incident_facts_changed()""",
    f"""CREATE FUNCTION incident_facts_timeline() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE
         automatic boolean := coalesce(NEW."after"->>'automatic' = 'true', false);
         late boolean := coalesce(NEW."after"->>'late' = 'true', false);
       BEGIN
         IF NEW.kind = 'status_update' THEN
           UPDATE incident_facts SET updates_automatic = updates_automatic + automatic::int,
             updates_late = updates_late + (NOT automatic AND late)::int,
             updates_on_time = updates_on_time + (NOT automatic AND NOT late)::int
           WHERE incident_id = NEW.incident_id;
         ELSIF NEW.kind IN ('status_changed', 'resolved') AND NEW."after"->>'status' IN {MITIGATED_SQL} THEN
           UPDATE incident_facts SET mitigated_at = NEW.at
           WHERE incident_id = NEW.incident_id AND (mitigated_at IS NULL OR NEW.at < mitigated_at);
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER incident_facts_timeline AFTER INSERT ON timeline_events FOR EACH ROW
       WHEN (NEW.kind IN ('status_update', 'status_changed', 'resolved'))
       EXECUTE FUNCTION incident_facts_timeline()""",
]


MEASURES = ("acknowledged", "mitigated", "resolved")
DAY_SUMS = ("incidents", *(c for m in MEASURES for c in (m, f"{m}_seconds")), "updates_on_time", "updates_late",
            "updates_automatic")


def _facts(row: str, postgresql: bool) -> list[str]:
    """What a facts row (NEW or OLD) adds to its day's sums, in DAY_SUMS' order."""
    if postgresql:
        seconds = "extract(epoch FROM {row}.{m}_at - {row}.declared_at)"
        counted = "({row}.{m}_at IS NOT NULL)::int"
    else:
        seconds = "(julianday({row}.{m}_at) - julianday({row}.declared_at)) * 86400.0"
        counted = "({row}.{m}_at IS NOT NULL)"
    values = ["1"]
    for m in MEASURES:
        values += [counted.format(row=row, m=m), f"coalesce({seconds.format(row=row, m=m)}, 0)"]
    return [*values, f"{row}.updates_on_time", f"{row}.updates_late", f"{row}.updates_automatic"]


def _day(row: str, postgresql: bool) -> str:
    if postgresql:
        return f"to_char({row}.declared_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    return f"date({row}.declared_at)"


def _add_to_day(row: str, values: list[str], condition: str, postgresql: bool) -> str:
    """One INSERT … ON CONFLICT DO UPDATE that adds `values` to the writer's row of the day and
    priority of `row`, when `condition` holds."""
    slot = "pg_backend_pid()" if postgresql else "0"
    additions = ", ".join(f"{c} = incident_fact_days.{c} + excluded.{c}" for c in DAY_SUMS)
    return (f"INSERT INTO incident_fact_days (day, priority, slot, {', '.join(DAY_SUMS)}) "
            f"SELECT {_day(row, postgresql)}, {row}.priority, {slot}, {', '.join(values)} WHERE {condition} "
            f"ON CONFLICT (day, priority, slot) DO UPDATE SET {additions}")


def _day_triggers(postgresql: bool) -> list[str]:
    """A new facts row adds its facts to its day's sums; a changed one adds the difference when it
    stays in the same day and priority, else takes its old facts away from the old ones and adds
    its new ones to the new (drills left out)."""
    new, old = _facts("NEW", postgresql), _facts("OLD", postgresql)
    same = (f"{_day('OLD', postgresql)} = {_day('NEW', postgresql)} AND OLD.priority = NEW.priority "
            "AND OLD.drill = NEW.drill")
    added = [_add_to_day("NEW", new, "NOT NEW.drill", postgresql)]
    changed = [_add_to_day("NEW", [f"{n} - {o}" for n, o in zip(new, old, strict=True)],
                           f"{same} AND NOT NEW.drill", postgresql),
               _add_to_day("OLD", [f"-{o}" for o in old], f"NOT ({same}) AND NOT OLD.drill", postgresql),
               _add_to_day("NEW", new, f"NOT ({same}) AND NOT NEW.drill", postgresql)]
    if not postgresql:
        return [f"CREATE TRIGGER incident_fact_days_added AFTER INSERT ON incident_facts BEGIN {added[0]}; END",
                f"CREATE TRIGGER incident_fact_days_changed AFTER UPDATE ON incident_facts BEGIN "
                f"{'; '.join(changed)}; END"]
    return ["CREATE FUNCTION incident_fact_days() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP = 'UPDATE' THEN {'; '.join(changed)}; ELSE {added[0]}; END IF; RETURN NULL; END $$",
            "CREATE TRIGGER incident_fact_days AFTER INSERT OR UPDATE ON incident_facts FOR EACH ROW "
            "EXECUTE FUNCTION incident_fact_days()"]


def upgrade() -> None:
    op.create_table(
        "incident_facts",
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("priority", sa.String(10), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drill", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mitigated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updates_on_time", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updates_late", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updates_automatic", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_incident_facts_declared_at", "incident_facts", ["declared_at"])
    op.create_table(
        "incident_fact_days",
        sa.Column("day", sa.String(10), primary_key=True),  # YYYY-MM-DD, UTC, of the declaration
        sa.Column("priority", sa.String(10), primary_key=True),
        sa.Column("slot", sa.Integer(), primary_key=True),  # the writer: pg_backend_pid(), 0 on SQLite
        *(sa.Column(c, sa.Float() if c.endswith("_seconds") else sa.Integer(), nullable=False, server_default="0")
          for c in DAY_SUMS),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        # Each row is updated by every change of a fact its writer makes: room on each page for
        # the new versions (HOT updates, pruned as pages are read) and a vacuum every thousand
        # updates, not after a fifth of the table, so the sums never drag their dead versions along.
        op.execute("ALTER TABLE incident_fact_days SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, "
                   "autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0, "
                   "autovacuum_analyze_threshold = 1000)")
    # The triggers first, then the facts of the incidents stored so far: a change committed while
    # the migration runs is either seen by the fill or kept by the triggers. On PostgreSQL,
    # creating a trigger locks its table against writes until the migration commits, so none
    # commits between the two; on SQLite the fill's transaction is the one writer. The fill
    # recomputes and overwrites a row the triggers may already have made.
    for statement in _day_triggers(postgresql):
        op.execute(statement)
    for statement in POSTGRESQL if postgresql else SQLITE:
        op.execute(statement)
    _fill_in(postgresql)


def _fill_in(postgresql: bool) -> None:
    """The facts of the incidents stored so far, from their rows and timelines, one batch of
    incident ids per statement (no statement holds all incidents at once); a facts row already
    there is overwritten with them, so filling in twice changes nothing."""
    incidents = sa.table("incidents", *(sa.column(c) for c in ("id", *INCIDENT_FACTS)))
    timeline = sa.table("timeline_events", sa.column("incident_id"), sa.column("at"), sa.column("kind"),
                        sa.column("after", sa.JSON))
    facts = sa.table("incident_facts", sa.column("incident_id"), *(sa.column(c) for c in INCIDENT_FACTS),
                     sa.column("mitigated_at"), sa.column("updates_on_time"), sa.column("updates_late"),
                     sa.column("updates_automatic"))
    mine = timeline.c.incident_id == incidents.c.id
    automatic = sa.func.coalesce(timeline.c.after["automatic"].as_boolean(), sa.false()).is_(True)
    late = sa.and_(~automatic, sa.func.coalesce(timeline.c.after["late"].as_boolean(), sa.false()).is_(True))

    def updates(condition: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
        return (sa.select(sa.func.count()).select_from(timeline)
                .where(mine, timeline.c.kind == "status_update", condition).scalar_subquery())

    mitigated = (sa.select(sa.func.min(timeline.c.at))
                 .where(mine, timeline.c.kind.in_(["status_changed", "resolved"]),
                        timeline.c.after["status"].as_string().in_(MITIGATED)).scalar_subquery())
    bind = op.get_bind()
    highest = bind.scalar(sa.select(sa.func.max(incidents.c.id))) or 0
    for low in range(0, highest, BATCH):
        chosen = (sa.select(incidents.c.id, *(incidents.c[c] for c in INCIDENT_FACTS), mitigated,
                            updates(sa.and_(~automatic, sa.not_(late))), updates(late), updates(automatic))
                  .where(incidents.c.id > low, incidents.c.id <= low + BATCH))
        filled = (postgresql_dialect.insert(facts) if postgresql else sqlite_dialect.insert(facts)).from_select(
            ["incident_id", *INCIDENT_FACTS, "mitigated_at", "updates_on_time", "updates_late", "updates_automatic"],
            chosen)
        bind.execute(filled.on_conflict_do_update(
            index_elements=["incident_id"], set_={c: filled.excluded[c] for c in filled.excluded.keys()
                                                  if c != "incident_id"}))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER incident_fact_days ON incident_facts")
        op.execute("DROP FUNCTION incident_fact_days()")
        op.execute("DROP TRIGGER incident_facts_timeline ON timeline_events")
        op.execute("DROP TRIGGER incident_facts_changed ON incidents")
        op.execute("DROP TRIGGER incident_facts_declared ON incidents")
        for function in ("incident_facts_timeline", "incident_facts_changed", "incident_facts_declared"):
            op.execute(f"DROP FUNCTION {function}()")
    else:
        for trigger in ("incident_fact_days_changed", "incident_fact_days_added", "incident_facts_status_update",
                         "incident_facts_mitigated", "incident_facts_changed",
                        "incident_facts_declared"):
            op.execute(f"DROP TRIGGER {trigger}")
    op.drop_table("incident_fact_days")
    op.drop_index("ix_incident_facts_declared_at", table_name="incident_facts")
    op.drop_table("incident_facts")
