"""Therapist register and its imports, PC4 coordinates, offers; programme offer settings.

Revision ID: b48ec04262bd
Revises: fb1c4105e361
Create Date: 2026-11-22 04:35:56.918516

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b48ec04262bd'
down_revision = 'fb1c4105e361'
branch_labels = None
depends_on = None


OLD_KINDS = "'new_referral', 'referral_rejected', 'referral_withdrawn'"
NEW_KINDS = OLD_KINDS + ", 'new_offer', 'offer_accepted', 'offer_declined', 'offer_expired'"


def _notification_kinds(kinds: str) -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_notification_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_notifications_notification_kind"), f"kind IN ({kinds})"
        )


def upgrade():
    _notification_kinds(NEW_KINDS)
    op.create_table('pc4_areas',
    sa.Column('pc4', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('latitude', sa.Double(), nullable=False),
    sa.Column('longitude', sa.Double(), nullable=False),
    sa.Column('place', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('pc4', name=op.f('pk_pc4_areas'))
    )
    op.create_table('register_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_register_imports_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_register_imports'))
    )
    op.create_table('therapists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brtn_number', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('registered_until', sa.Date(), nullable=False),
    sa.Column('postcode', sa.String(length=7), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('travel_radius_km', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('active_participants', sa.Integer(), nullable=False),
    sa.Column('offers_group', sa.Boolean(), nullable=False),
    sa.Column('offers_individual', sa.Boolean(), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('weekdays', sa.JSON(), nullable=False),
    sa.Column('accepting_referrals', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('active_participants >= 0', name=op.f('ck_therapists_active_not_negative')),
    sa.CheckConstraint('capacity >= 0 AND capacity <= 200', name=op.f('ck_therapists_capacity_range')),
    sa.CheckConstraint('travel_radius_km BETWEEN 0 AND 300', name=op.f('ck_therapists_radius_range')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_therapists_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_therapists')),
    sa.UniqueConstraint('brtn_number', name=op.f('uq_therapists_brtn_number')),
    sa.UniqueConstraint('user_id', name=op.f('uq_therapists_user_id'))
    )
    op.create_table('programme_therapists',
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_programme_therapists_programme_id_programmes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['therapist_id'], ['therapists.id'], name=op.f('fk_programme_therapists_therapist_id_therapists')),
    sa.PrimaryKeyConstraint('programme_id', 'therapist_id', name=op.f('pk_programme_therapists'))
    )
    op.create_table('offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=False),
    sa.Column('offered_by_id', sa.Integer(), nullable=True),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.Enum('open', 'accepted', 'declined', 'expired', 'withdrawn', name='offer_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decline_reason', sa.Enum('no_capacity', 'schedule', 'distance', 'not_suitable', 'other', name='decline_reason', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('decline_note', sa.Text(), nullable=True),
    sa.CheckConstraint("state <> 'declined' OR decline_reason IS NOT NULL", name=op.f('ck_offers_declined_has_reason')),
    sa.CheckConstraint("state = 'open' OR responded_at IS NOT NULL", name=op.f('ck_offers_closed_has_time')),
    sa.ForeignKeyConstraint(['offered_by_id'], ['users.id'], name=op.f('fk_offers_offered_by_id_users')),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_offers_referral_id_referrals')),
    sa.ForeignKeyConstraint(['therapist_id'], ['therapists.id'], name=op.f('fk_offers_therapist_id_therapists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offers'))
    )
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offers_deadline_at'), ['deadline_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_offers_referral_id'), ['referral_id'], unique=False)
        batch_op.create_index('ix_offers_therapist_id_state', ['therapist_id', 'state'], unique=False)

    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offer_deadline_days', sa.Integer(), server_default='5', nullable=False))
        batch_op.add_column(sa.Column('auto_offer', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('therapist_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_referrals_therapist_id'), ['therapist_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_referrals_therapist_id_therapists'), 'therapists', ['therapist_id'], ['id'])



def downgrade():
    op.execute(
        "DELETE FROM notifications WHERE kind IN "
        "('new_offer', 'offer_accepted', 'offer_declined', 'offer_expired')"
    )
    _notification_kinds(OLD_KINDS)
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_referrals_therapist_id_therapists'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_referrals_therapist_id'))
        batch_op.drop_column('therapist_id')

    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.drop_column('auto_offer')
        batch_op.drop_column('offer_deadline_days')

    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_index('ix_offers_therapist_id_state')
        batch_op.drop_index(batch_op.f('ix_offers_referral_id'))
        batch_op.drop_index(batch_op.f('ix_offers_deadline_at'))

    op.drop_table('offers')
    op.drop_table('programme_therapists')
    op.drop_table('therapists')
    op.drop_table('register_imports')
    op.drop_table('pc4_areas')
