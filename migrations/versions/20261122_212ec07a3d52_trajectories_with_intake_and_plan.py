"""Trajectories: one per accepted referral, with the intake and the walk/run plan.

Revision ID: 212ec07a3d52
Revises: b48ec04262bd
Create Date: 2026-11-22 05:53:26.076174

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '212ec07a3d52'
down_revision = 'b48ec04262bd'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('trajectories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('intake_on', sa.Date(), nullable=True),
    sa.Column('can_walk_min', sa.Integer(), nullable=True),
    sa.Column('can_run_min', sa.Integer(), nullable=True),
    sa.Column('intake_remarks', sa.Text(), nullable=True),
    sa.Column('plan', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('intake_on IS NULL OR (can_walk_min IS NOT NULL AND can_run_min IS NOT NULL)', name=op.f('ck_trajectories_intake_complete')),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_trajectories_referral_id_referrals')),
    sa.ForeignKeyConstraint(['therapist_id'], ['therapists.id'], name=op.f('fk_trajectories_therapist_id_therapists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trajectories')),
    sa.UniqueConstraint('referral_id', name=op.f('uq_trajectories_referral_id'))
    )
    with op.batch_alter_table('trajectories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trajectories_therapist_id'), ['therapist_id'], unique=False)



def downgrade():
    with op.batch_alter_table('trajectories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trajectories_therapist_id'))

    op.drop_table('trajectories')
