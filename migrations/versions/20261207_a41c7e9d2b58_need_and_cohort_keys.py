"""The municipality's need figures per programme, and what the reach figures count.

- programme_needs and pc4_residents: the adult residents, the K10 bands of the GGD health
  monitor and the residents per PC4, each with its source and year (models.ProgrammeNeed).
- A trigger on participants: a change of the date of birth or the postcode (a correction, an
  erasure) marks the submission days of the participant's referrals, since the summary now
  counts referrals by age band and PC4 area.
- Every month with referrals is marked to be counted again, so that the monthly summary gains
  the new counters: ("cohort", "") with the sum of the month's referral keys (the rounding of
  the protected figures takes it as the period's fingerprint), ("age", band), ("pc4", area)
  and ("intake_band", ...). The worker (`flask refresh-figures`) counts the marked months; no
  figure is computed in a migration.

Revision ID: a41c7e9d2b58
Revises: 3e8f0a2b7c15
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "a41c7e9d2b58"
down_revision = "3e8f0a2b7c15"
branch_labels = None
depends_on = None

TRIGGER = "figure_marks_participants"


def _utc_day(dialect: str, column: str) -> str:
    if dialect == "sqlite":
        return f"date({column})"
    return f"({column} AT TIME ZONE 'UTC')::date"


def _mark(dialect: str, row: str) -> str:
    day = _utc_day(dialect, "r.submitted_at")
    return (
        f"INSERT INTO figure_marks (programme_id, day) SELECT r.programme_id, {day}"  # noqa: S608 - constants
        f" FROM referrals r WHERE r.participant_id = {row}.id AND r.submitted_at IS NOT NULL"
    )


def upgrade():
    op.create_table(
        "programme_needs",
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("adult_residents", sa.Integer(), nullable=True),
        sa.Column("residents_source", sa.String(length=200), nullable=True),
        sa.Column("residents_year", sa.Integer(), nullable=True),
        sa.Column("k10_low_percent", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("k10_moderate_percent", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("k10_high_percent", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("k10_source", sa.String(length=200), nullable=True),
        sa.Column("k10_year", sa.Integer(), nullable=True),
        sa.Column("pc4_source", sa.String(length=200), nullable=True),
        sa.Column("pc4_year", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "adult_residents IS NULL OR adult_residents > 0",
            name=op.f("ck_programme_needs_residents"),
        ),
        *(
            sa.CheckConstraint(
                f"{column} IS NULL OR ({column} >= 0 AND {column} <= 100)",
                name=op.f(f"ck_programme_needs_{column}"),
            )
            for column in ("k10_low_percent", "k10_moderate_percent", "k10_high_percent")
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_programme_needs_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_programme_needs_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("programme_id", name=op.f("pk_programme_needs")),
    )
    op.create_table(
        "pc4_residents",
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("pc4", sa.Integer(), nullable=False),
        sa.Column("adult_residents", sa.Integer(), nullable=False),
        sa.CheckConstraint("pc4 BETWEEN 1000 AND 9999", name=op.f("ck_pc4_residents_pc4_range")),
        sa.CheckConstraint("adult_residents >= 0", name=op.f("ck_pc4_residents_residents")),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programme_needs.programme_id"],
            name=op.f("fk_pc4_residents_programme_id_programme_needs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("programme_id", "pc4", name=op.f("pk_pc4_residents")),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            f"CREATE TRIGGER {TRIGGER}_update AFTER UPDATE OF date_of_birth, postcode"
            f" ON participants BEGIN {_mark(dialect, 'NEW')}; END"
        )
    else:
        op.execute(
            f"CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" {_mark(dialect, 'NEW')}; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {TRIGGER} AFTER UPDATE OF date_of_birth, postcode ON participants"
            f" FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()"
        )
    day = _utc_day(dialect, "submitted_at")
    op.execute(
        f"INSERT INTO figure_marks (programme_id, day) "  # noqa: S608 - no user input
        f"SELECT DISTINCT programme_id, {day} FROM referrals WHERE submitted_at IS NOT NULL"
    )


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}_update")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON participants")
        op.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}()")
    op.drop_table("pc4_residents")
    op.drop_table("programme_needs")
