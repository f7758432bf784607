"""exactly once under concurrency: dedup_keys (the row concurrent triggers of one key lock) and one
response per (notification, option)

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-01 22:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('dedup_keys',
    sa.Column('configuration_id', sa.Integer(), nullable=False),
    sa.Column('dedup_key', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['configuration_id'], ['configurations.id'],
                            name=op.f('fk_dedup_keys_configuration_id_configurations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('configuration_id', 'dedup_key', name=op.f('pk_dedup_keys'))
    )
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_responses_notification_id'), type_='unique')
        batch_op.create_unique_constraint('uq_responses_notification_response', ['notification_id', 'response'])


def downgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_constraint('uq_responses_notification_response', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_responses_notification_id'), ['notification_id'])
    op.drop_table('dedup_keys')
