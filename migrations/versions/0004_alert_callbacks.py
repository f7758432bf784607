"""a trigger's callbacks (alert-scoped update endpoints with HTTP Basic) and alerts.escalation_override

Revision ID: 0004
Revises: 0006
Create Date: 2026-12-01 22:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0006'
branch_labels = None
depends_on = None

ONE_PER_TYPE = sa.text('alert_id IS NULL')


def upgrade():
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalation_override', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    with op.batch_alter_table('update_endpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('auth_user_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('auth_password', sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_update_endpoints_alert_id_alerts'), 'alerts', ['alert_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_index(batch_op.f('ix_update_endpoints_alert_id'), ['alert_id'], unique=False)
        batch_op.drop_constraint('uq_update_endpoints_config_type', type_='unique')
    with op.batch_alter_table('update_endpoints', schema=None) as batch_op:
        batch_op.create_index('uq_update_endpoints_config_type', ['configuration_id', 'update_type'], unique=True,
                              sqlite_where=ONE_PER_TYPE, postgresql_where=ONE_PER_TYPE)


def downgrade():
    op.execute('DELETE FROM update_endpoints WHERE alert_id IS NOT NULL')
    with op.batch_alter_table('update_endpoints', schema=None) as batch_op:
        batch_op.drop_index('uq_update_endpoints_config_type')
    with op.batch_alter_table('update_endpoints', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_update_endpoints_config_type', ['configuration_id', 'update_type'])
        batch_op.drop_index(batch_op.f('ix_update_endpoints_alert_id'))
        batch_op.drop_constraint(batch_op.f('fk_update_endpoints_alert_id_alerts'), type_='foreignkey')
        batch_op.drop_column('auth_password')
        batch_op.drop_column('auth_user_name')
        batch_op.drop_column('alert_id')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('escalation_override')
