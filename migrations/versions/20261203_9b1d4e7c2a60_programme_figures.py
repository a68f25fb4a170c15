"""Programme figures per month, and the triggers that mark what to count again.

programme_figures holds the dashboard's counters per programme and Dutch calendar month;
figure_marks says which programme and day changed since they were counted. A trigger on each
table the figures count adds a mark in the same transaction as the change, whoever makes it
(a form, a bulk UPDATE, an erasure), so the counters can never silently drift from the rows:

- referrals: insert, delete, or update of programme_id, submitted_at, referring_organisation_id
  or reasons: the referral's submission day;
- offers: insert, delete, or update of referral_id or offered_at: the referral's submission day;
- trajectories: insert, delete, or update of what the figures read: the referral's submission
  day, and the days the trajectory started and closed;
- session_attendances: insert, delete, or update of programme_id, held_on or attendance: the
  session's date;
- questionnaire_responses: insert, delete, or update of what the outcomes read: the submission
  day of the trajectory's referral.

The day of a timestamp is its UTC date (SQLite has no time zones); the app turns it into the
one or two Dutch months it can belong to. A referral's state changes (the most frequent write)
fire nothing. Existing rows are marked here, so the first refresh counts every month once.

Revision ID: 9b1d4e7c2a60
Revises: 5c749a36d95b
Create Date: 2026-12-03 18:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "9b1d4e7c2a60"
down_revision = "5c749a36d95b"
branch_labels = None
depends_on = None

# Per table: the columns whose update fires the trigger, and what to mark. A mark is
# ("day", programme column, date column), ("time", programme column, timestamp column),
# ("referral", referral id column) or ("trajectory", trajectory id column).
WATCHED = {
    "referrals": (
        ("programme_id", "submitted_at", "referring_organisation_id", "reasons"),
        (("time", "programme_id", "submitted_at"),),
    ),
    "offers": (("referral_id", "offered_at"), (("referral", "referral_id"),)),
    "trajectories": (
        (
            "referral_id",
            "programme_id",
            "started_at",
            "closed_at",
            "first_session_on",
            "outcome",
            "dropout_reason",
        ),
        (
            ("referral", "referral_id"),
            ("time", "programme_id", "started_at"),
            ("time", "programme_id", "closed_at"),
        ),
    ),
    "session_attendances": (
        ("programme_id", "held_on", "attendance"),
        (("day", "programme_id", "held_on"),),
    ),
    "questionnaire_responses": (
        ("trajectory_id", "instrument", "moment", "score", "category"),
        (("trajectory", "trajectory_id"),),
    ),
}


def _utc_day(dialect: str, column: str) -> str:
    if dialect == "sqlite":
        return f"date({column})"
    return f"({column} AT TIME ZONE 'UTC')::date"


def _mark(dialect: str, mark: tuple, row: str) -> str:
    insert = "INSERT INTO figure_marks (programme_id, day) "
    kind = mark[0]
    if kind == "day":
        return f"{insert}SELECT {row}.{mark[1]}, {row}.{mark[2]} WHERE {row}.{mark[2]} IS NOT NULL"
    if kind == "time":
        day = _utc_day(dialect, f"{row}.{mark[2]}")
        return f"{insert}SELECT {row}.{mark[1]}, {day} WHERE {row}.{mark[2]} IS NOT NULL"
    day = _utc_day(dialect, "r.submitted_at")
    if kind == "referral":
        return f"{insert}SELECT r.programme_id, {day} FROM referrals r WHERE r.id = {row}.{mark[1]}"  # noqa: S608 - this file's constants
    return (
        f"{insert}SELECT r.programme_id, {day} FROM trajectories t"  # noqa: S608 - constants
        f" JOIN referrals r ON r.id = t.referral_id WHERE t.id = {row}.{mark[1]}"
    )


def _create_triggers(dialect: str) -> None:
    for table, (columns, marks) in WATCHED.items():
        name = f"figure_marks_{table}"
        if dialect == "sqlite":
            events = (
                ("insert", "INSERT", ("NEW",)),
                ("update", f"UPDATE OF {', '.join(columns)}", ("OLD", "NEW")),
                ("delete", "DELETE", ("OLD",)),
            )
            for suffix, event, rows in events:
                body = "; ".join(_mark(dialect, m, r) for r in rows for m in marks)
                op.execute(
                    f"CREATE TRIGGER {name}_{suffix} AFTER {event} ON {table} BEGIN {body}; END"
                )
            continue
        old = "; ".join(_mark(dialect, m, "OLD") for m in marks)
        new = "; ".join(_mark(dialect, m, "NEW") for m in marks)
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF TG_OP <> 'INSERT' THEN {old}; END IF;"
            f" IF TG_OP <> 'DELETE' THEN {new}; END IF;"
            " RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER INSERT OR DELETE OR UPDATE OF {', '.join(columns)}"
            f" ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"
        )


def upgrade():
    op.create_table(
        "programme_figures",
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("figure", sa.String(length=30), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_programme_figures_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "programme_id", "month", "figure", "key", name=op.f("pk_programme_figures")
        ),
    )
    op.create_table(
        "figure_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_figure_marks")),
    )
    op.create_index(op.f("ix_figure_marks_programme_id"), "figure_marks", ["programme_id"])
    dialect = op.get_bind().dialect.name
    _create_triggers(dialect)
    # Every programme and day that has data, once: the first refresh counts all months.
    submitted = _utc_day(dialect, "submitted_at")
    started, closed = _utc_day(dialect, "started_at"), _utc_day(dialect, "closed_at")
    op.execute(
        "INSERT INTO figure_marks (programme_id, day)"  # noqa: S608 - this file's constants
        f" SELECT DISTINCT programme_id, {submitted} FROM referrals"
        " UNION SELECT DISTINCT programme_id, held_on FROM session_attendances"
        f" UNION SELECT DISTINCT programme_id, {started} FROM trajectories"
        f" UNION SELECT DISTINCT programme_id, {closed} FROM trajectories"
        " WHERE closed_at IS NOT NULL"
    )


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in WATCHED:
        name = f"figure_marks_{table}"
        if dialect == "sqlite":
            for suffix in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {name}_{suffix}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_index(op.f("ix_figure_marks_programme_id"), table_name="figure_marks")
    op.drop_table("figure_marks")
    op.drop_table("programme_figures")
