"""maintenance windows and the alerts they held; heartbeats and their recent pings (SPEC §10)

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-01 22:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('maintenance_windows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('start', sa.DateTime(), nullable=False),
    sa.Column('end', sa.DateTime(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('recurrence', sa.JSON(), nullable=True),
    sa.Column('all_configurations', sa.Boolean(), nullable=False),
    sa.Column('configuration_uuids', sa.JSON(), nullable=False),
    sa.Column('notify_on_end', sa.Boolean(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance_windows'))
    )
    op.create_table('maintenance_holds',
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=True),
    sa.Column('window_name', sa.String(length=200), nullable=False),
    sa.Column('notify_on_end', sa.Boolean(), nullable=False),
    sa.Column('flooded', sa.Boolean(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('released_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_maintenance_holds_alert_id_alerts'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['window_id'], ['maintenance_windows.id'],
                            name=op.f('fk_maintenance_holds_window_id_maintenance_windows'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('alert_id', name=op.f('pk_maintenance_holds'))
    )
    with op.batch_alter_table('maintenance_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_maintenance_holds_ends_at'), ['ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_maintenance_holds_window_id'), ['window_id'], unique=False)
    op.create_table('heartbeats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('configuration_id', sa.Integer(), nullable=False),
    sa.Column('interval_minutes', sa.Integer(), nullable=False),
    sa.Column('grace_minutes', sa.Integer(), nullable=False),
    sa.Column('last_ping_at', sa.DateTime(), nullable=True),
    sa.Column('late_at', sa.DateTime(), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('down_at', sa.DateTime(), nullable=True),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_heartbeats_alert_id_alerts'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['configuration_id'], ['configurations.id'],
                            name=op.f('fk_heartbeats_configuration_id_configurations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_heartbeats')),
    sa.UniqueConstraint('configuration_id', name=op.f('uq_heartbeats_configuration_id'))
    )
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_heartbeats_due_at'), ['due_at'], unique=False)
    op.create_table('heartbeat_pings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('heartbeat_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=200), nullable=True),
    sa.Column('ended_outage', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['heartbeat_id'], ['heartbeats.id'],
                            name=op.f('fk_heartbeat_pings_heartbeat_id_heartbeats'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_heartbeat_pings'))
    )
    with op.batch_alter_table('heartbeat_pings', schema=None) as batch_op:
        batch_op.create_index('ix_heartbeat_pings_heartbeat_id_id', ['heartbeat_id', 'id'], unique=False)


def downgrade():
    op.drop_table('heartbeat_pings')
    op.drop_table('heartbeats')
    op.drop_table('maintenance_holds')
    op.drop_table('maintenance_windows')
