"""A therapist's closed trajectories are read a page at a time from an index on (therapist,
closed_at, id); it replaces the index on therapist alone, which it also serves.

Revision ID: 3e8f0a2b7c15
Revises: 9b1d4e7c2a60
Create Date: 2026-12-04 19:20:00

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "3e8f0a2b7c15"
down_revision = "9b1d4e7c2a60"
branch_labels = None
depends_on = None


def upgrade():
    # Plain index operations (no batch mode): on SQLite a batch could copy the table, and the
    # copy would lose the programme-figure triggers.
    op.create_index(
        "ix_trajectories_therapist_id_closed_at",
        "trajectories",
        ["therapist_id", "closed_at", "id"],
    )
    op.drop_index("ix_trajectories_therapist_id", table_name="trajectories")


def downgrade():
    op.create_index("ix_trajectories_therapist_id", "trajectories", ["therapist_id"])
    op.drop_index("ix_trajectories_therapist_id_closed_at", table_name="trajectories")
