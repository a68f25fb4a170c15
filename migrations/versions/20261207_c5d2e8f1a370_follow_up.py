"""The follow-up: a questionnaire a set time after closing, and regular sport at that moment.

- programmes.follow_up_months: the months after closing (None: no follow-up).
- questionnaire_responses.moment may be "follow". SQLite keeps a CHECK inside the table, so the
  table is copied (batch mode), and its figure-marks triggers (migration 9b1d4e7c2a60), which a
  copy drops, are made again here.
- trajectories.sport_at_follow_up, with a trigger that marks the referral's submission day when
  it changes (the figures count regular sport at the follow-up).

Revision ID: c5d2e8f1a370
Revises: a41c7e9d2b58
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "c5d2e8f1a370"
down_revision = "a41c7e9d2b58"
branch_labels = None
depends_on = None

CHECK = "ck_questionnaire_responses_moment"
RESPONSE_COLUMNS = "trajectory_id, instrument, moment, score, category"
SPORT_TRIGGER = "figure_marks_trajectories_follow_up"


def _utc_day(dialect: str, column: str) -> str:
    if dialect == "sqlite":
        return f"date({column})"
    return f"({column} AT TIME ZONE 'UTC')::date"


def _mark_trajectory(dialect: str, row: str, column: str) -> str:
    """Mark the submission day of the referral of the trajectory `row`.`column`."""
    day = _utc_day(dialect, "r.submitted_at")
    return (
        f"INSERT INTO figure_marks (programme_id, day) SELECT r.programme_id, {day}"  # noqa: S608 - constants
        f" FROM trajectories t JOIN referrals r ON r.id = t.referral_id WHERE t.id = {row}.{column}"
    )


def _moment_check(values: tuple[str, ...]) -> str:
    return "moment IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _sqlite_response_triggers() -> None:
    """The three triggers migration 9b1d4e7c2a60 made on questionnaire_responses."""
    name = "figure_marks_questionnaire_responses"
    events = (
        ("insert", "INSERT", ("NEW",)),
        ("update", f"UPDATE OF {RESPONSE_COLUMNS}", ("OLD", "NEW")),
        ("delete", "DELETE", ("OLD",)),
    )
    for suffix, event, rows in events:
        body = "; ".join(_mark_trajectory("sqlite", row, "trajectory_id") for row in rows)
        op.execute(f"DROP TRIGGER IF EXISTS {name}_{suffix}")
        op.execute(
            f"CREATE TRIGGER {name}_{suffix} AFTER {event} ON questionnaire_responses"
            f" BEGIN {body}; END"
        )


def _set_moments(values: tuple[str, ...]) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        with op.batch_alter_table("questionnaire_responses", recreate="always") as batch:
            batch.drop_constraint(op.f(CHECK), type_="check")
            batch.create_check_constraint("moment", _moment_check(values))
        _sqlite_response_triggers()
    else:
        op.drop_constraint(op.f(CHECK), "questionnaire_responses", type_="check")
        op.create_check_constraint("moment", "questionnaire_responses", _moment_check(values))


def upgrade():
    op.add_column("programmes", sa.Column("follow_up_months", sa.Integer(), nullable=True))
    op.add_column(
        "trajectories", sa.Column("sport_at_follow_up", sa.String(length=12), nullable=True)
    )
    _set_moments(("intake", "midway", "end", "follow"))
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            f"CREATE TRIGGER {SPORT_TRIGGER} AFTER UPDATE OF sport_at_follow_up ON trajectories"
            f" BEGIN {_mark_trajectory(dialect, 'NEW', 'id')}; END"
        )
    else:
        op.execute(
            f"CREATE FUNCTION {SPORT_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" {_mark_trajectory(dialect, 'NEW', 'id')}; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {SPORT_TRIGGER} AFTER UPDATE OF sport_at_follow_up ON trajectories"
            f" FOR EACH ROW EXECUTE FUNCTION {SPORT_TRIGGER}()"
        )


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {SPORT_TRIGGER}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {SPORT_TRIGGER} ON trajectories")
        op.execute(f"DROP FUNCTION IF EXISTS {SPORT_TRIGGER}()")
    op.execute("DELETE FROM questionnaire_responses WHERE moment = 'follow'")
    _set_moments(("intake", "midway", "end"))
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later): a copy of the table would trip
    # over the triggers of other tables that name it.
    op.execute("ALTER TABLE trajectories DROP COLUMN sport_at_follow_up")
    op.execute("ALTER TABLE programmes DROP COLUMN follow_up_months")
