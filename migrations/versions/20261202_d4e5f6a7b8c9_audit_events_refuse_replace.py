"""audit_events: SQLite also refuses REPLACE INTO / INSERT OR REPLACE over an existing row.

SQLite's REPLACE conflict resolution deletes the row in the way without firing its DELETE
trigger (recursive_triggers is off), so `REPLACE INTO audit_events` could overwrite a row that
the UPDATE and DELETE triggers of 7cd5e0541a4d protect. Two triggers close that:

- audit_events_no_replace, BEFORE INSERT: refuses a row whose id is already taken. The only
  unique key of audit_events is its id; a later revision that adds a UNIQUE index here must
  refuse a conflict on that key in the same way.
- audit_events_positive_id, AFTER INSERT: refuses an id below 1. In a BEFORE INSERT trigger
  NEW.id is -1 when the id is left to SQLite, so a stored row with id -1 (or 0) would make
  every later insert look like a replace; autoincrement never gives such ids.

PostgreSQL needs nothing new: INSERT ... ON CONFLICT DO UPDATE (and MERGE) fire the BEFORE
UPDATE row trigger audit_events_append_only, and PostgreSQL has no REPLACE.
tests/test_audit_append_only.py proves both.

Revision ID: d4e5f6a7b8c9
Revises: c3d1f0a7b9e2
Create Date: 2026-12-02 12:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "d4e5f6a7b8c9"
down_revision = "c3d1f0a7b9e2"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE TRIGGER audit_events_no_replace BEFORE INSERT ON audit_events "
        "WHEN EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id) BEGIN "
        "SELECT RAISE(ABORT, 'audit_events is append-only: REPLACE refused'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_events_positive_id AFTER INSERT ON audit_events "
        "WHEN NEW.id < 1 BEGIN "
        "SELECT RAISE(ABORT, 'audit_events is append-only: ids start at 1'); END"
    )


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_events_positive_id")
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_replace")
