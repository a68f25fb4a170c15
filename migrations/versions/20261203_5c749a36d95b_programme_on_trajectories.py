"""Trajectories and attendance rows carry their referral's programme (held equal by composite
foreign keys), so that programme figures read a programme's rows from an index instead of
joining every trajectory in the country to the referrals.

Revision ID: 5c749a36d95b
Revises: cf35bf26a29d
Create Date: 2026-12-03 14:29:26.781000

"""

import sqlalchemy as sa
from alembic import op

revision = "5c749a36d95b"
down_revision = "cf35bf26a29d"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_referrals_id_programme_id", ["id", "programme_id"])

    op.add_column("trajectories", sa.Column("programme_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE trajectories SET programme_id ="
        " (SELECT programme_id FROM referrals WHERE referrals.id = trajectories.referral_id)"
    )
    with op.batch_alter_table("trajectories", schema=None) as batch_op:
        batch_op.alter_column("programme_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(
            "ix_trajectories_programme_id_started_at", ["programme_id", "started_at"]
        )
        batch_op.create_unique_constraint("uq_trajectories_id_programme_id", ["id", "programme_id"])
        batch_op.create_foreign_key(
            "fk_trajectories_referral_programme",
            "referrals",
            ["referral_id", "programme_id"],
            ["id", "programme_id"],
        )

    op.add_column("session_attendances", sa.Column("programme_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE session_attendances SET programme_id = (SELECT programme_id FROM trajectories"
        " WHERE trajectories.id = session_attendances.trajectory_id)"
    )
    with op.batch_alter_table("session_attendances", schema=None) as batch_op:
        batch_op.alter_column("programme_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(
            "ix_session_attendances_programme_id_held_on",
            ["programme_id", "held_on", "attendance"],
        )
        batch_op.create_foreign_key(
            "fk_session_attendances_trajectory_programme",
            "trajectories",
            ["trajectory_id", "programme_id"],
            ["id", "programme_id"],
        )


def downgrade():
    with op.batch_alter_table("session_attendances", schema=None) as batch_op:
        batch_op.drop_constraint("fk_session_attendances_trajectory_programme", type_="foreignkey")
        batch_op.drop_index("ix_session_attendances_programme_id_held_on")
        batch_op.drop_column("programme_id")

    with op.batch_alter_table("trajectories", schema=None) as batch_op:
        batch_op.drop_constraint("fk_trajectories_referral_programme", type_="foreignkey")
        batch_op.drop_constraint("uq_trajectories_id_programme_id", type_="unique")
        batch_op.drop_index("ix_trajectories_programme_id_started_at")
        batch_op.drop_column("programme_id")

    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_constraint("uq_referrals_id_programme_id", type_="unique")
