"""Programmes with postcode areas, participants, referrals with their events, and the outbox.

Revision ID: fb1c4105e361
Revises: 7cd5e0541a4d
Create Date: 2026-11-22 04:11:57.608084

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'fb1c4105e361'
down_revision = '7cd5e0541a4d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('participants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('date_of_birth', sa.Date(), nullable=False),
    sa.Column('postcode', sa.String(length=7), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('bsn', sa.String(length=9), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participants'))
    )
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participants_bsn'), ['bsn'], unique=False)
        batch_op.create_index(batch_op.f('ix_participants_postcode'), ['postcode'], unique=False)

    op.create_table('programmes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('funder_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('min_age', sa.Integer(), nullable=False),
    sa.Column('funded_places', sa.Integer(), nullable=False),
    sa.Column('trajectory_weeks', sa.Integer(), nullable=False),
    sa.Column('supervised_sessions', sa.Integer(), nullable=False),
    sa.Column('tariff_cents', sa.Integer(), nullable=False),
    sa.Column('questionnaires', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_on IS NULL OR ends_on >= starts_on', name=op.f('ck_programmes_period_order')),
    sa.CheckConstraint('funded_places >= 0', name=op.f('ck_programmes_funded_places_positive')),
    sa.CheckConstraint('min_age >= 0 AND min_age <= 120', name=op.f('ck_programmes_min_age_range')),
    sa.CheckConstraint('supervised_sessions BETWEEN 1 AND 200', name=op.f('ck_programmes_sessions_range')),
    sa.CheckConstraint('tariff_cents >= 0', name=op.f('ck_programmes_tariff_positive')),
    sa.CheckConstraint('trajectory_weeks BETWEEN 1 AND 104', name=op.f('ck_programmes_weeks_range')),
    sa.ForeignKeyConstraint(['funder_id'], ['organisations.id'], name=op.f('fk_programmes_funder_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programmes'))
    )
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programmes_funder_id'), ['funder_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.Enum('new_referral', 'referral_rejected', 'referral_withdrawn', name='notification_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=True),
    sa.Column('recipient_email', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_notifications_recipient_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_recipient_id'), ['recipient_id'], unique=False)
        batch_op.create_index('ix_notifications_sent_at_next_attempt_at', ['sent_at', 'next_attempt_at'], unique=False)

    op.create_table('postcode_areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('pc4_from', sa.Integer(), nullable=False),
    sa.Column('pc4_to', sa.Integer(), nullable=False),
    sa.CheckConstraint('pc4_from BETWEEN 1000 AND 9999', name=op.f('ck_postcode_areas_from_range')),
    sa.CheckConstraint('pc4_to BETWEEN pc4_from AND 9999', name=op.f('ck_postcode_areas_to_range')),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_postcode_areas_programme_id_programmes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postcode_areas'))
    )
    with op.batch_alter_table('postcode_areas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postcode_areas_programme_id'), ['programme_id'], unique=False)

    op.create_table('programme_coordinators',
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_programme_coordinators_programme_id_programmes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_programme_coordinators_user_id_users')),
    sa.PrimaryKeyConstraint('programme_id', 'user_id', name=op.f('pk_programme_coordinators'))
    )
    op.create_table('programme_referrers',
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_programme_referrers_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_programme_referrers_programme_id_programmes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('programme_id', 'organisation_id', name=op.f('pk_programme_referrers'))
    )
    op.create_table('referrals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=True),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('referring_organisation_id', sa.Integer(), nullable=False),
    sa.Column('referrer_id', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('preferred_form', sa.Enum('group', 'individual', 'either', name='preferred_form', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('preferred_days', sa.JSON(), nullable=False),
    sa.Column('consent_to_refer', sa.Boolean(), nullable=False),
    sa.Column('consent_share_progress', sa.Boolean(), nullable=False),
    sa.Column('state', sa.Enum('submitted', 'offered', 'accepted', 'active', 'completed', 'dropped_out', 'rejected', 'withdrawn', name='referral_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rejection_reason', sa.Enum('not_eligible', 'other_care', 'duplicate', 'other', name='rejection_reason', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state <> 'rejected' OR rejection_reason IS NOT NULL", name=op.f('ck_referrals_rejected_has_reason')),
    sa.CheckConstraint("state NOT IN ('rejected', 'withdrawn') OR closed_at IS NOT NULL", name=op.f('ck_referrals_closed_has_time')),
    sa.CheckConstraint('consent_to_refer', name=op.f('ck_referrals_consent_required')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_referrals_participant_id_participants')),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_referrals_programme_id_programmes')),
    sa.ForeignKeyConstraint(['referrer_id'], ['users.id'], name=op.f('fk_referrals_referrer_id_users')),
    sa.ForeignKeyConstraint(['referring_organisation_id'], ['organisations.id'], name=op.f('fk_referrals_referring_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals')),
    sa.UniqueConstraint('reference', name=op.f('uq_referrals_reference'))
    )
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referrals_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index('ix_referrals_programme_id_state', ['programme_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_referrals_referring_organisation_id'), ['referring_organisation_id'], unique=False)

    op.create_table('referral_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('from_state', sa.Enum('submitted', 'offered', 'accepted', 'active', 'completed', 'dropped_out', 'rejected', 'withdrawn', name='from_state', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('to_state', sa.Enum('submitted', 'offered', 'accepted', 'active', 'completed', 'dropped_out', 'rejected', 'withdrawn', name='to_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_referral_events_actor_id_users')),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_referral_events_referral_id_referrals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_events'))
    )
    with op.batch_alter_table('referral_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_events_referral_id'), ['referral_id'], unique=False)



def downgrade():
    with op.batch_alter_table('referral_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_events_referral_id'))

    op.drop_table('referral_events')
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referrals_referring_organisation_id'))
        batch_op.drop_index('ix_referrals_programme_id_state')
        batch_op.drop_index(batch_op.f('ix_referrals_participant_id'))

    op.drop_table('referrals')
    op.drop_table('programme_referrers')
    op.drop_table('programme_coordinators')
    with op.batch_alter_table('postcode_areas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postcode_areas_programme_id'))

    op.drop_table('postcode_areas')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_sent_at_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_notifications_recipient_id'))

    op.drop_table('notifications')
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programmes_funder_id'))

    op.drop_table('programmes')
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participants_postcode'))
        batch_op.drop_index(batch_op.f('ix_participants_bsn'))

    op.drop_table('participants')
