"""Comment and escalation update types: configurations.outbound_properties, and room in
webhook_messages.update_type for recipient_failure

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-01 22:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('configurations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outbound_properties', sa.JSON(), nullable=True))
    with op.batch_alter_table('webhook_messages', schema=None) as batch_op:
        batch_op.alter_column('update_type', existing_type=sa.String(length=16), type_=sa.String(length=32),
                              existing_nullable=False)


def downgrade():
    with op.batch_alter_table('webhook_messages', schema=None) as batch_op:
        batch_op.alter_column('update_type', existing_type=sa.String(length=32), type_=sa.String(length=16),
                              existing_nullable=False)
    with op.batch_alter_table('configurations', schema=None) as batch_op:
        batch_op.drop_column('outbound_properties')
