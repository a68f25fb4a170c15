"""Failed logins counted on the user (failed_logins, failures_since), not in the audit log.

Revision ID: c3d1f0a7b9e2
Revises: 83aa520af864
Create Date: 2026-12-02 07:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c3d1f0a7b9e2'
down_revision = '83aa520af864'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.add_column(
            sa.Column('failures_since', sa.DateTime(timezone=True), nullable=True)
        )


def downgrade():
    # Dropped in place (SQLite 3.35+ and PostgreSQL can): rebuilding `users` would break the
    # foreign keys of every row that points at a user.
    with op.batch_alter_table('users', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('failures_since')
        batch_op.drop_column('failed_logins')
