"""Alembic environment: run by services.store.db.migrate with a live connection."""

from alembic import context

from services.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("Beacon applies migrations on start (python app.py); run it rather than alembic.")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
