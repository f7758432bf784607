"""On-call groups: shifts with timelines, fallback members, overrides, escalation plans; group timezone and feed nonces

Revision ID: 0003
Revises: 0007
Create Date: 2026-12-01 22:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('group_fallbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('recipient_type', sa.String(length=8), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('member_group_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('(user_id IS NULL) <> (member_group_id IS NULL)', name=op.f('ck_group_fallbacks_one_member')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_fallbacks_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_group_id'], ['groups.id'], name=op.f('fk_group_fallbacks_member_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_group_fallbacks_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_fallbacks'))
    )
    with op.batch_alter_table('group_fallbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_fallbacks_group_id'), ['group_id'], unique=False)
    op.create_table('shifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('start_at', sa.DateTime(), nullable=False),
    sa.Column('end_at', sa.DateTime(), nullable=False),
    sa.Column('recurrence', sa.JSON(), nullable=True),
    sa.Column('rotation_direction', sa.String(length=16), nullable=False),
    sa.Column('rotation_every', sa.String(length=8), nullable=False),
    sa.Column('rotation_interval_hours', sa.Integer(), nullable=True),
    sa.Column('repeat_after_minutes', sa.Integer(), nullable=False),
    sa.Column('repeat_times', sa.Integer(), nullable=False),
    sa.Column('alert_sequence', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_shifts_group_id_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shifts')),
    sa.UniqueConstraint('group_id', 'name', name='uq_shifts_group_name')
    )
    with op.batch_alter_table('shifts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shifts_group_id'), ['group_id'], unique=False)
    op.create_table('overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('replacement_id', sa.Integer(), nullable=True),
    sa.Column('start_at', sa.DateTime(), nullable=False),
    sa.Column('end_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('end_at > start_at', name=op.f('ck_overrides_window')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_overrides_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['users.id'], name=op.f('fk_overrides_member_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['replacement_id'], ['users.id'], name=op.f('fk_overrides_replacement_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shift_id'], ['shifts.id'], name=op.f('fk_overrides_shift_id_shifts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_overrides'))
    )
    with op.batch_alter_table('overrides', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_overrides_end_at'), ['end_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_overrides_group_id'), ['group_id'], unique=False)
    op.create_table('shift_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('recipient_type', sa.String(length=8), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('member_group_id', sa.Integer(), nullable=True),
    sa.Column('delay_minutes', sa.Integer(), nullable=False),
    sa.Column('rotation_excluded', sa.Boolean(), nullable=False),
    sa.CheckConstraint('(user_id IS NULL) <> (member_group_id IS NULL)', name=op.f('ck_shift_members_one_member')),
    sa.ForeignKeyConstraint(['member_group_id'], ['groups.id'], name=op.f('fk_shift_members_member_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shift_id'], ['shifts.id'], name=op.f('fk_shift_members_shift_id_shifts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_shift_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shift_members'))
    )
    with op.batch_alter_table('shift_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shift_members_shift_id'), ['shift_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shift_members_user_id'), ['user_id'], unique=False)
    op.create_table('escalation_plans',
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['target_id'], ['alert_targets.id'], name=op.f('fk_escalation_plans_target_id_alert_targets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('target_id', name=op.f('pk_escalation_plans'))
    )
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False))
        batch_op.add_column(sa.Column('calendar_nonce', sa.String(length=32), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar_nonce', sa.String(length=32), nullable=True))

    # ### end Alembic commands ###


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('calendar_nonce')
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.drop_column('calendar_nonce')
        batch_op.drop_column('timezone')
    op.drop_table('escalation_plans')
    with op.batch_alter_table('shift_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shift_members_user_id'))
        batch_op.drop_index(batch_op.f('ix_shift_members_shift_id'))
    op.drop_table('shift_members')
    with op.batch_alter_table('overrides', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_overrides_group_id'))
        batch_op.drop_index(batch_op.f('ix_overrides_end_at'))
    op.drop_table('overrides')
    with op.batch_alter_table('shifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shifts_group_id'))
    op.drop_table('shifts')
    with op.batch_alter_table('group_fallbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_fallbacks_group_id'))
    op.drop_table('group_fallbacks')
