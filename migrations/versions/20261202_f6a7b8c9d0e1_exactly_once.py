"""Exactly once: a referral form's key, report version numbers, the outbox's "sending" mark.

- referrals.submission_key: the key of the form a referral was sent with, unique, so that the
  same form sent twice (a double click, a retry) saves one referral.
- reports.version: the version number of a progress report, unique per programme and period
  (a partial unique index), so that two workers rendering at once cannot both write version 3.
  Existing reports are numbered in order of id; the immutability trigger is lifted for that
  one UPDATE and put back.
- notifications.sending_since: set just before a message is handed to the mail server.

Revision ID: f6a7b8c9d0e1
Revises: e5f6a7b8c9d0
Create Date: 2026-12-02 21:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f6a7b8c9d0e1"
down_revision = "e5f6a7b8c9d0"
branch_labels = None
depends_on = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _lift_report_guard() -> None:
    if _postgresql():
        op.execute("ALTER TABLE reports DISABLE TRIGGER reports_immutable")
    else:
        op.execute("DROP TRIGGER IF EXISTS reports_no_update")


def _restore_report_guard() -> None:
    if _postgresql():
        op.execute("ALTER TABLE reports ENABLE TRIGGER reports_immutable")
    else:
        op.execute(
            "CREATE TRIGGER reports_no_update BEFORE UPDATE ON reports BEGIN "
            "SELECT RAISE(ABORT, 'reports are immutable: UPDATE refused'); END"
        )


def upgrade():
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("submission_key", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_referrals_submission_key", ["submission_key"])

    op.add_column("notifications", sa.Column("sending_since", sa.DateTime(timezone=True), nullable=True))

    op.add_column("reports", sa.Column("version", sa.Integer(), nullable=True))
    _lift_report_guard()
    op.execute(
        """
        UPDATE reports SET version = (
            SELECT COUNT(*) FROM reports AS earlier
            WHERE earlier.kind = reports.kind
              AND earlier.programme_id = reports.programme_id
              AND earlier.period_start = reports.period_start
              AND earlier.period_end = reports.period_end
              AND earlier.id <= reports.id
        )
        WHERE kind = 'progress'
        """
    )
    _restore_report_guard()
    op.create_index(
        "ux_reports_progress_version",
        "reports",
        ["programme_id", "period_start", "period_end", "version"],
        unique=True,
        sqlite_where=sa.text("kind = 'progress'"),
        postgresql_where=sa.text("kind = 'progress'"),
    )


def downgrade():
    op.drop_index("ux_reports_progress_version", table_name="reports")
    op.drop_column("reports", "version")
    op.drop_column("notifications", "sending_since")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_constraint("uq_referrals_submission_key", type_="unique")
        batch.drop_column("submission_key")
