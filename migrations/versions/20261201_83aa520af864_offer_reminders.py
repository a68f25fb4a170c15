"""Offer reminders: when the therapist was told the deadline is near; the notification kind.

Revision ID: 83aa520af864
Revises: 7fa3f2f0ae07
Create Date: 2026-12-01 12:15:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '83aa520af864'
down_revision = '7fa3f2f0ae07'
branch_labels = None
depends_on = None

OLD_KINDS = (
    "'new_referral', 'referral_rejected', 'referral_withdrawn', "
    "'new_offer', 'offer_accepted', 'offer_declined', 'offer_expired', 'trajectory_closed'"
)
NEW_KINDS = OLD_KINDS + ", 'offer_deadline_near'"


def _notification_kinds(kinds: str, length: int, old_length: int) -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_notification_kind"), type_="check")
        batch_op.alter_column(
            "kind",
            existing_type=sa.String(length=old_length),
            type_=sa.String(length=length),
            existing_nullable=False,
        )
        batch_op.create_check_constraint(
            op.f("ck_notifications_notification_kind"), f"kind IN ({kinds})"
        )


def upgrade():
    _notification_kinds(NEW_KINDS, 19, 18)  # 'offer_deadline_near' is the longest now
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_column('reminded_at')
    op.execute("DELETE FROM notifications WHERE kind = 'offer_deadline_near'")
    _notification_kinds(OLD_KINDS, 18, 19)
