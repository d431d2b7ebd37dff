"""incident facts: per incident, what the response metrics read (priority, declaration, drill,
acknowledged, first mitigated and resolved at, status updates on time, late and automatic), kept by
the database in the transaction of each change, and filled in from the existing incidents and
timelines; and the same facts summed per UTC day of declaration and priority, so that a scrape
reads at most 90 days of sums per priority

Revision ID: 0029_incident_facts
Revises: 0028_dedicated_channels
"""

import sqlalchemy as sa
from alembic import op

revision = "0029_incident_facts"
down_revision = "0028_dedicated_channels"
branch_labels = None
depends_on = None

BATCH = 5000  # incidents filled in per statement
MITIGATED = ("verifying", "monitoring", "resolved")  # services.review.report.MITIGATED
INCIDENT_FACTS = ("priority", "declared_at", "drill", "acknowledged_at", "resolved_at")

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
         AND json_extract(NEW."after", '$.status') IN {MITIGATED!r} BEGIN
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
    """CREATE FUNCTION incident_facts_timeline() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE
         automatic boolean := coalesce(NEW."after"->>'automatic' = 'true', false);
         late boolean := coalesce(NEW."after"->>'late' = 'true', false);
       BEGIN
         IF NEW.kind = 'status_update' THEN
           UPDATE incident_facts SET updates_automatic = updates_automatic + automatic::int,
             updates_late = updates_late + (NOT automatic AND late)::int,
             updates_on_time = updates_on_time + (NOT automatic AND NOT late)::int
           WHERE incident_id = NEW.incident_id;
         ELSIF NEW.kind IN ('status_changed', 'resolved')
             AND NEW."after"->>'status' IN ('verifying', 'monitoring', 'resolved') THEN
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


def _day_change(row: str, sign: str, postgresql: bool) -> list[str]:
    """The statements that add (sign "+") or take away ("-") a facts row (NEW or OLD) to or from
    its day's sums, drills left out."""
    if postgresql:
        day = f"to_char({row}.declared_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        seconds = "extract(epoch FROM {row}.{m}_at - {row}.declared_at)"
        counted = "({row}.{m}_at IS NOT NULL)::int"
    else:
        day = f"date({row}.declared_at)"
        seconds = "(julianday({row}.{m}_at) - julianday({row}.declared_at)) * 86400.0"
        counted = "({row}.{m}_at IS NOT NULL)"
    values = ["1"]
    for m in MEASURES:
        values += [counted.format(row=row, m=m), f"coalesce({seconds.format(row=row, m=m)}, 0)"]
    values += [f"{row}.updates_on_time", f"{row}.updates_late", f"{row}.updates_automatic"]
    assignments = ", ".join(f"{c} = {c} {sign} {v}" for c, v in zip(DAY_SUMS, values, strict=True))
    return [f"INSERT INTO incident_fact_days (day, priority) SELECT {day}, {row}.priority WHERE NOT {row}.drill "
            "ON CONFLICT DO NOTHING",
            f"UPDATE incident_fact_days SET {assignments} WHERE day = {day} AND priority = {row}.priority "
            f"AND NOT {row}.drill"]


def _day_triggers(postgresql: bool) -> list[str]:
    new, old = _day_change("NEW", "+", postgresql), _day_change("OLD", "-", postgresql)
    if not postgresql:
        return [f"CREATE TRIGGER incident_fact_days_added AFTER INSERT ON incident_facts BEGIN {'; '.join(new)}; END",
                f"CREATE TRIGGER incident_fact_days_changed AFTER UPDATE ON incident_facts BEGIN "
                f"{'; '.join(old + new)}; END"]
    return ["CREATE FUNCTION incident_fact_days() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP = 'UPDATE' THEN {'; '.join(old)}; END IF; {'; '.join(new)}; RETURN NULL; END $$",
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
        *(sa.Column(c, sa.Float() if c.endswith("_seconds") else sa.Integer(), nullable=False, server_default="0")
          for c in DAY_SUMS),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        # A few hundred rows, each updated by every change of a fact: room on each page for the
        # new versions (HOT updates, pruned as pages are read) and a vacuum every thousand updates,
        # not after a fifth of the table, so the sums never drag their dead versions along.
        op.execute("ALTER TABLE incident_fact_days SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, "
                   "autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0, "
                   "autovacuum_analyze_threshold = 1000)")
    for statement in _day_triggers(postgresql):
        op.execute(statement)
    _fill_in()
    for statement in POSTGRESQL if postgresql else SQLITE:
        op.execute(statement)


def _fill_in() -> None:
    """The facts of the incidents stored so far, from their rows and timelines, one batch of
    incident ids per statement (no statement holds all incidents at once)."""
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
        bind.execute(facts.insert().from_select(
            ["incident_id", *INCIDENT_FACTS, "mitigated_at", "updates_on_time", "updates_late", "updates_automatic"],
            chosen))


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
