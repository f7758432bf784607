"""ix_alerts_undispatched: a partial index of the alerts not yet dispatched (status, id)

The workers' look and claim (alerting/notifications/dispatch.py) ask for the oldest undispatched
ACTIVE alerts; through ix_alerts_status_id that walked every ACTIVE alert to find the few new ones,
so each round cost grew with the number of open alerts. The partial index holds only the new ones.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:20:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

WHERE = sa.text("dispatched_at IS NULL")


def upgrade():
    op.create_index("ix_alerts_undispatched", "alerts", ["status", "id"], sqlite_where=WHERE, postgresql_where=WHERE)


def downgrade():
    op.drop_index("ix_alerts_undispatched", table_name="alerts")
