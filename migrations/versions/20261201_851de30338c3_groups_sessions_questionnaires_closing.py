"""Groups, sessions with attendance, questionnaire responses, closing, immutable reports.

Revision ID: 851de30338c3
Revises: 212ec07a3d52
Create Date: 2026-12-01 11:10:11.889373

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '851de30338c3'
down_revision = '212ec07a3d52'
branch_labels = None
depends_on = None

OLD_KINDS = (
    "'new_referral', 'referral_rejected', 'referral_withdrawn', "
    "'new_offer', 'offer_accepted', 'offer_declined', 'offer_expired'"
)
NEW_KINDS = OLD_KINDS + ", 'trajectory_closed'"


def _notification_kinds(kinds: str) -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_notification_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_notifications_notification_kind"), f"kind IN ({kinds})"
        )


def create_report_guard():
    """A report is kept exactly as it was sent: no UPDATE, not even with SQL."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION reports_refuse_update() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'reports are immutable: UPDATE refused';
            END;
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER reports_immutable BEFORE UPDATE ON reports "
            "FOR EACH ROW EXECUTE FUNCTION reports_refuse_update()"
        )
    else:
        op.execute(
            "CREATE TRIGGER reports_no_update BEFORE UPDATE ON reports BEGIN "
            "SELECT RAISE(ABORT, 'reports are immutable: UPDATE refused'); END"
        )


def drop_report_guard():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS reports_immutable ON reports")
        op.execute("DROP FUNCTION IF EXISTS reports_refuse_update()")
    else:
        op.execute("DROP TRIGGER IF EXISTS reports_no_update")


def upgrade():
    _notification_kinds(NEW_KINDS)
    op.create_table('training_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('weekday', sa.Enum('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', name='group_weekday', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('starts_at', sa.Time(), nullable=False),
    sa.Column('meeting_place', sa.String(length=200), nullable=False),
    sa.Column('max_size', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('max_size BETWEEN 3 AND 8', name=op.f('ck_training_groups_size_range')),
    sa.ForeignKeyConstraint(['therapist_id'], ['therapists.id'], name=op.f('fk_training_groups_therapist_id_therapists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_groups'))
    )
    with op.batch_alter_table('training_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_groups_therapist_id'), ['therapist_id'], unique=False)

    op.create_table('training_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('logged_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['training_groups.id'], name=op.f('fk_training_sessions_group_id_training_groups')),
    sa.ForeignKeyConstraint(['logged_by_id'], ['users.id'], name=op.f('fk_training_sessions_logged_by_id_users')),
    sa.ForeignKeyConstraint(['therapist_id'], ['therapists.id'], name=op.f('fk_training_sessions_therapist_id_therapists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_sessions')),
    sa.UniqueConstraint('group_id', 'held_on', name=op.f('uq_training_sessions_group_id_held_on'))
    )
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_sessions_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_sessions_therapist_id'), ['therapist_id'], unique=False)

    op.create_table('questionnaire_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trajectory_id', sa.Integer(), nullable=False),
    sa.Column('instrument', sa.String(length=20), nullable=False),
    sa.Column('moment', sa.Enum('intake', 'midway', 'end', name='moment', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('taken_on', sa.Date(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('score', sa.Double(), nullable=True),
    sa.Column('subscores', sa.JSON(), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('missing_items', sa.Integer(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_questionnaire_responses_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['trajectory_id'], ['trajectories.id'], name=op.f('fk_questionnaire_responses_trajectory_id_trajectories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_responses')),
    sa.UniqueConstraint('trajectory_id', 'instrument', 'moment', name=op.f('uq_questionnaire_responses_trajectory_id_instrument_moment'))
    )
    with op.batch_alter_table('questionnaire_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_responses_trajectory_id'), ['trajectory_id'], unique=False)

    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('closing_letter', 'progress', name='report_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('trajectory_id', sa.Integer(), nullable=True),
    sa.Column('programme_id', sa.Integer(), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('filename', sa.String(length=120), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.CheckConstraint("(kind = 'closing_letter' AND trajectory_id IS NOT NULL) OR (kind = 'progress' AND programme_id IS NOT NULL)", name=op.f('ck_reports_kind_has_subject')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_reports_created_by_id_users')),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_reports_programme_id_programmes')),
    sa.ForeignKeyConstraint(['trajectory_id'], ['trajectories.id'], name=op.f('fk_reports_trajectory_id_trajectories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reports_trajectory_id'), ['trajectory_id'], unique=False)

    op.create_table('session_attendances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('trajectory_id', sa.Integer(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('attendance', sa.Enum('present', 'excused', 'absent', name='attendance', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('week_number', sa.Integer(), nullable=True),
    sa.Column('planned_run_min', sa.Integer(), nullable=True),
    sa.Column('planned_total_min', sa.Integer(), nullable=True),
    sa.Column('done_run_min', sa.Integer(), nullable=True),
    sa.Column('done_total_min', sa.Integer(), nullable=True),
    sa.Column('borg', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("attendance = 'present' OR (done_run_min IS NULL AND done_total_min IS NULL AND borg IS NULL)", name=op.f('ck_session_attendances_absent_did_nothing')),
    sa.CheckConstraint('borg IS NULL OR borg BETWEEN 6 AND 20', name=op.f('ck_session_attendances_borg_range')),
    sa.CheckConstraint('done_run_min IS NULL OR done_total_min IS NULL OR done_run_min <= done_total_min', name=op.f('ck_session_attendances_run_within_total')),
    sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], name=op.f('fk_session_attendances_session_id_training_sessions')),
    sa.ForeignKeyConstraint(['trajectory_id'], ['trajectories.id'], name=op.f('fk_session_attendances_trajectory_id_trajectories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_attendances')),
    sa.UniqueConstraint('session_id', 'trajectory_id', name=op.f('uq_session_attendances_session_id_trajectory_id'))
    )
    with op.batch_alter_table('session_attendances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_attendances_trajectory_id'), ['trajectory_id'], unique=False)

    with op.batch_alter_table('trajectories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('first_session_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.Enum('completed', 'dropped_out', 'regular_sport', name='outcome', native_enum=False, create_constraint=True), nullable=True))
        batch_op.add_column(sa.Column('dropout_reason', sa.Enum('motivation', 'injury_or_illness', 'moved', 'other_help', 'unreachable', 'other', name='dropout_reason', native_enum=False, create_constraint=True), nullable=True))
        batch_op.add_column(sa.Column('regular_sport', sa.Enum('running_club', 'start_to_run', 'other', name='regular_sport', native_enum=False, create_constraint=True), nullable=True))
        batch_op.add_column(sa.Column('closing_note', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_trajectories_group_id'), ['group_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_trajectories_group_id_training_groups'), 'training_groups', ['group_id'], ['id'])
        batch_op.create_check_constraint(
            op.f("ck_trajectories_closed_has_outcome"),
            "(closed_at IS NULL AND outcome IS NULL)"
            " OR (closed_at IS NOT NULL AND outcome IS NOT NULL)",
        )
        batch_op.create_check_constraint(
            op.f("ck_trajectories_dropout_has_reason"),
            "outcome <> 'dropped_out' OR dropout_reason IS NOT NULL",
        )

    create_report_guard()


def downgrade():
    drop_report_guard()
    op.execute("DELETE FROM notifications WHERE kind = 'trajectory_closed'")
    _notification_kinds(OLD_KINDS)
    with op.batch_alter_table('trajectories', schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_trajectories_dropout_has_reason"), type_="check")
        batch_op.drop_constraint(op.f("ck_trajectories_closed_has_outcome"), type_="check")
        for enum_check in ("outcome", "dropout_reason", "regular_sport"):
            batch_op.drop_constraint(op.f(f"ck_trajectories_{enum_check}"), type_="check")
        batch_op.drop_constraint(batch_op.f('fk_trajectories_group_id_training_groups'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_trajectories_group_id'))
        batch_op.drop_column('closing_note')
        batch_op.drop_column('regular_sport')
        batch_op.drop_column('dropout_reason')
        batch_op.drop_column('outcome')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('first_session_on')
        batch_op.drop_column('group_id')

    with op.batch_alter_table('session_attendances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_attendances_trajectory_id'))

    op.drop_table('session_attendances')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_trajectory_id'))
        batch_op.drop_index(batch_op.f('ix_reports_programme_id'))

    op.drop_table('reports')
    with op.batch_alter_table('questionnaire_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_responses_trajectory_id'))

    op.drop_table('questionnaire_responses')
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_sessions_therapist_id'))
        batch_op.drop_index(batch_op.f('ix_training_sessions_group_id'))

    op.drop_table('training_sessions')
    with op.batch_alter_table('training_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_groups_therapist_id'))

    op.drop_table('training_groups')
