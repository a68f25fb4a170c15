"""TOTP secrets encrypted at rest (referrals.crypto); the column grows to hold the tokens.

Revision ID: 7fa3f2f0ae07
Revises: a1ee07d92073
Create Date: 2026-12-01 12:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '7fa3f2f0ae07'
down_revision = 'a1ee07d92073'
branch_labels = None
depends_on = None

users = sa.table("users", sa.column("id", sa.Integer), sa.column("totp_secret", sa.String))


def _rewrite(convert) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(users.c.id, users.c.totp_secret).where(users.c.totp_secret.is_not(None))
    ).all()
    for user_id, value in rows:
        connection.execute(
            users.update().where(users.c.id == user_id).values(totp_secret=convert(value))
        )


def upgrade():
    from referrals.crypto import encrypt

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column(
            'totp_secret',
            existing_type=sa.String(length=64),
            type_=sa.String(length=255),
            existing_nullable=True,
        )
    _rewrite(encrypt)


def downgrade():
    from referrals.crypto import decrypt

    _rewrite(decrypt)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column(
            'totp_secret',
            existing_type=sa.String(length=255),
            type_=sa.String(length=64),
            existing_nullable=True,
        )
