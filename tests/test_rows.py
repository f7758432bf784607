"""alerting/alerts/rows.py: a new row written by one pre-compiled INSERT reads back exactly as the
ORM's own INSERT of the same object does (both databases), and the object is then persistent."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from alerting.alerts import rows
from extensions import db
from models import Alert, Configuration, TimelineEntry


@pytest.fixture
def cfg(app):
    row = Configuration(name="Rows", template="webhook", api_key="k" * 32)
    db.session.add(row)
    db.session.commit()
    return row


def new_alert(cfg, **overrides):
    at = datetime(2026, 12, 3, 17, 30, 0)  # whole seconds: the ORM's text for it has the microseconds too
    values = {"configuration_id": cfg.id, "status": "ACTIVE", "priority": "HIGH", "subject": "Disk full ✓",
              "message": "db-1 <b>", "properties": {"Host": "db-1", "n": 3, "nested": {"a": [1, None]}},
              "dedup_key": None, "duplicate_count": 0, "recipients": [{"id": "alice", "recipientType": "PERSON"}],
              "unresolved_recipients": [], "response_options": [{"text": "Ack", "action": "STOP_NOTIFYING_USER"}],
              "suppressed": True, "escalation_override": False, "expires_at": at + timedelta(days=1),
              "created_at": at, "updated_at": at.replace(microsecond=123456)}
    values.update(overrides)
    return Alert(**values)


def stored(table, row_id) -> dict:
    """The row as the database gives it back, through SQLAlchemy's types, in a fresh read."""
    db.session.expire_all()
    found = db.session.execute(select(table).where(table.c.id == row_id)).mappings().one()
    return {key: value for key, value in found.items() if key not in ("id", "uuid", "request_id")}


def test_a_row_inserted_reads_back_as_the_orm_insert_of_the_same_alert(app, cfg):
    by_orm = new_alert(cfg)
    db.session.add(by_orm)
    db.session.flush()
    by_rows = new_alert(cfg)
    row_id = rows.insert(by_rows)
    db.session.commit()
    assert row_id == by_rows.id and row_id != by_orm.id
    assert stored(Alert.__table__, row_id) == stored(Alert.__table__, by_orm.id)
    assert stored(Alert.__table__, row_id)["properties"] == {"Host": "db-1", "n": 3, "nested": {"a": [1, None]}}
    # the text SQLite keeps for a datetime is SQLAlchemy's, microseconds included, so ordering and
    # comparisons in SQL see both rows alike
    for column in (Alert.created_at, Alert.updated_at):  # whole seconds, and microseconds
        same = db.session.execute(select(Alert.id).where(column == getattr(by_orm, column.key))
                                  .order_by(Alert.id)).scalars().all()
        assert same == sorted([by_orm.id, row_id]), column


def test_columns_left_none_take_their_defaults_as_the_orm_gives_them(app, cfg):
    by_orm = new_alert(cfg, uuid=None, status=None, duplicate_count=None, suppressed=None)
    db.session.add(by_orm)
    db.session.flush()
    by_rows = new_alert(cfg, uuid=None, status=None, duplicate_count=None, suppressed=None)
    rows.insert(by_rows)
    db.session.commit()
    assert len(by_rows.uuid) == 36 and by_rows.uuid != by_orm.uuid  # the default ran, for each row
    assert (by_rows.status, by_rows.duplicate_count, by_rows.suppressed) == ("ACTIVE", 0, False)
    assert stored(Alert.__table__, by_rows.id) == stored(Alert.__table__, by_orm.id)


def test_the_object_is_persistent_and_clean_and_a_later_change_is_an_update(app, cfg):
    alert = new_alert(cfg)
    rows.insert(alert)
    state = inspect(alert)
    assert state.persistent and alert in db.session
    assert not db.session.new and not db.session.dirty
    assert alert.configuration is cfg  # the relationship set on it stays loaded: no query
    entry = TimelineEntry(alert_id=alert.id, type="EVENT_CREATED", actor="me", detail={"x": 1},
                          at=datetime(2026, 12, 3, 17, 30, 1))
    rows.insert(entry)
    alert.status = "TERMINATED"
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Alert, alert.id).status == "TERMINATED"
    assert db.session.query(Alert).count() == 1
    assert [(t.type, t.detail) for t in db.session.query(TimelineEntry).filter_by(alert_id=alert.id)] == \
        [("EVENT_CREATED", {"x": 1})]


def test_a_database_error_is_sqlalchemys_and_the_transaction_rolls_back_whole(app, cfg):
    first = new_alert(cfg)
    rows.insert(first)
    clash = new_alert(cfg, uuid=first.uuid)  # alerts.uuid is unique
    with pytest.raises(IntegrityError):
        rows.insert(clash)
    db.session.rollback()
    assert db.session.query(Alert).count() == 0
