"""Report jobs: programme reports rendered by the worker, outside web requests.

Revision ID: a1ee07d92073
Revises: 851de30338c3
Create Date: 2026-12-01 11:23:03.527035

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a1ee07d92073'
down_revision = '851de30338c3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.Enum('queued', 'running', 'done', 'failed', name='report_job_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("state <> 'done' OR report_id IS NOT NULL", name=op.f('ck_report_jobs_done_has_report')),
    sa.CheckConstraint('period_end >= period_start', name=op.f('ck_report_jobs_period_order')),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_report_jobs_programme_id_programmes')),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_jobs_report_id_reports')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_report_jobs_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_jobs'))
    )
    with op.batch_alter_table('report_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_jobs_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index('ix_report_jobs_state_requested_at', ['state', 'requested_at'], unique=False)



def downgrade():
    with op.batch_alter_table('report_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_report_jobs_state_requested_at')
        batch_op.drop_index(batch_op.f('ix_report_jobs_programme_id'))

    op.drop_table('report_jobs')
