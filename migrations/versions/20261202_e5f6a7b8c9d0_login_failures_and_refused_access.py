"""Login failures per account and client address; refused access in the audit log.

- login_failures: one row per failed password or code, with the client address, so that an
  account locks for the address that failed and not for its owner elsewhere. It replaces the
  counter on users (failed_logins, failures_since) and users.locked_until.
- audit_events.action may be 'refused': a participant object asked for and not shown.
  On SQLite a CHECK constraint cannot be altered, so the table is rebuilt (rows copied as
  they are; DROP TABLE fires no DELETE trigger) and its indexes and triggers are put back.
  The downgrade leaves this wider constraint in place: refused rows cannot be deleted from
  the append-only log, and the old constraint would refuse them.
- An index on audit_events (object_type, object_id), for the log page's search by referral.

Revision ID: e5f6a7b8c9d0
Revises: d4e5f6a7b8c9
Create Date: 2026-12-02 16:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e5f6a7b8c9d0"
down_revision = "d4e5f6a7b8c9"
branch_labels = None
depends_on = None

ACTIONS = (
    "create", "read", "update", "delete", "export", "print", "search", "login",
    "login_failed", "logout",
)
CHECK = "ck_audit_events_audit_action"


def _in_list(actions) -> str:
    return ", ".join(f"'{action}'" for action in actions)


def _allow_refused() -> None:
    bind = op.get_bind()
    wide = f"action IN ({_in_list((*ACTIONS, 'refused'))})"
    if bind.dialect.name != "sqlite":
        op.execute(f"ALTER TABLE audit_events DROP CONSTRAINT {CHECK}")
        op.execute(f"ALTER TABLE audit_events ADD CONSTRAINT {CHECK} CHECK ({wide})")
        return
    narrow = f"action IN ({_in_list(ACTIONS)})"
    table_sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'"
    ).scalar_one()
    if narrow not in table_sql:
        return  # already wide (upgraded before, and the downgrade kept it)
    others = [
        row[0]
        for row in bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'audit_events' "
            "AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"
        )
    ]
    new_sql = table_sql.replace(narrow, wide).replace(
        "CREATE TABLE audit_events", "CREATE TABLE audit_events_rebuilt", 1
    )
    op.execute(new_sql)
    op.execute("INSERT INTO audit_events_rebuilt SELECT * FROM audit_events")
    op.execute("DROP TABLE audit_events")
    op.execute("ALTER TABLE audit_events_rebuilt RENAME TO audit_events")
    for sql in others:  # the indexes, then the append-only triggers, as they were
        op.execute(sql)


def upgrade():
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=False),
        sa.Column("step", sa.String(length=8), server_default="password", nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_login_failures_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(
        "ix_login_failures_user_id_address_failed_at",
        "login_failures",
        ["user_id", "address", "failed_at"],
    )
    # Dropped in place (SQLite 3.35+ and PostgreSQL can): rebuilding `users` would break the
    # foreign keys of every row that points at a user.
    with op.batch_alter_table("users", recreate="never") as batch_op:
        batch_op.drop_column("failures_since")
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("locked_until")
    _allow_refused()
    op.create_index(
        "ix_audit_events_object_type_object_id", "audit_events", ["object_type", "object_id"]
    )


def downgrade():
    op.drop_index("ix_audit_events_object_type_object_id", table_name="audit_events")
    with op.batch_alter_table("users", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("failures_since", sa.DateTime(timezone=True), nullable=True))
    op.drop_index("ix_login_failures_user_id_address_failed_at", table_name="login_failures")
    op.drop_table("login_failures")
