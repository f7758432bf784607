"""config_versions: one row the database raises, by triggers, whenever what ingest caches per process
changes (configurations, their own update endpoints, flows, maintenance windows)

A trigger fires in the writing transaction itself, whatever wrote (the API, the CLI, a worker
disabling an endpoint), so a process that reads the version it cached at knows its cache holds.
NOTE: on SQLite a later ``batch_alter_table`` of one of these tables rebuilds the table and drops
its triggers; such a migration must create them again (``create_triggers``), and
tests/test_ingest_cache.py fails if an edit stops raising the version.

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-02 14:10:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0005'
branch_labels = None
depends_on = None

BUMP = "UPDATE config_versions SET version = version + 1 WHERE id = 1"
# the update endpoints' columns whose change matters to ingest (not last_result, failing_since…,
# which every delivery writes)
ENDPOINT_COLUMNS = "configuration_id, update_type, enabled, url, disabled_at, alert_id, auth_user_name, auth_password"
# (table, event, row condition or None); update_endpoints: a configuration's own, not an alert's callbacks
TRIGGERS = [
    ("configurations", "INSERT", None), ("configurations", "UPDATE", None), ("configurations", "DELETE", None),
    ("flows", "INSERT", None), ("flows", "UPDATE", None), ("flows", "DELETE", None),
    ("maintenance_windows", "INSERT", None), ("maintenance_windows", "UPDATE", None),
    ("maintenance_windows", "DELETE", None),
    ("update_endpoints", "INSERT", "NEW.alert_id IS NULL"),
    ("update_endpoints", f"UPDATE OF {ENDPOINT_COLUMNS}", "NEW.alert_id IS NULL OR OLD.alert_id IS NULL"),
    ("update_endpoints", "DELETE", "OLD.alert_id IS NULL"),
]


def _name(table: str, event: str) -> str:
    return f"klaxon_version_{table}_{event.split()[0].lower()}"


def create_triggers() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("CREATE OR REPLACE FUNCTION klaxon_bump_config_version() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN {BUMP}; RETURN NULL; END $$")
    for table, event, condition in TRIGGERS:
        name = _name(table, event)
        if postgresql:
            when = f" WHEN ({condition})" if condition else ""
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} "
                       "EXECUTE PROCEDURE klaxon_bump_config_version()")
        else:
            when = f" WHEN {condition}" if condition else ""
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} BEGIN {BUMP}; END")


def drop_triggers() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, event, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {_name(table, event)}" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS klaxon_bump_config_version()")


def upgrade():
    op.create_table('config_versions',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_config_versions'))
    )
    # a random start: a process that cached another database at the same URL (dropped and created
    # again) cannot meet the version it cached at
    op.execute(f"INSERT INTO config_versions (id, version) VALUES (1, {secrets.randbits(62)})")
    create_triggers()


def downgrade():
    drop_triggers()
    op.drop_table('config_versions')
