"""A per-process cache of what every alert of a configuration reads in the writer's batch (issue 17).

The configuration (with its own update endpoints), its enabled flows and every maintenance window
are read once per process and database version, not once per batch: a batch reads only the one
row of ``config_versions`` (in its own transaction, so on SQLite after it took the write lock),
which the database's triggers raise in the same transaction as any write of those things, on any
process (migration 0008). While the version is the one cached at, the cached objects are what a
fresh read would give; the configuration is ``merge(load=False)``d into the batch's session (no
SELECT); flows and windows, only read, are used detached.

A version row that is gone (a test emptied the tables) is written again with a random version,
so nothing cached before can be taken for it. Outside a group-commit batch nothing is cached.
"""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from alerting.alerts import group_commit
from extensions import db
from models import Configuration, ConfigVersion, Flow, MaintenanceWindow

FLOWS_KEY = "klaxon_enabled_flows"  # session.info: alerting.flows.triggers.enabled_flows' own cache
KEY = "config_cache_key"  # batch cache: (database, version) this batch read
MERGED = "config_cache_configurations"  # batch cache: {configuration id: the merged Configuration}


@dataclass(frozen=True)
class Entry:
    configuration: Configuration  # detached, endpoints loaded
    flows: list[Flow]  # detached: the enabled ones, by id


_lock = threading.Lock()
_key: tuple[str, int] | None = None
_configurations: dict[int, Entry] = {}
_windows: list[MaintenanceWindow] | None = None
hits = misses = 0  # for tests and the bench
VERSION = select(ConfigVersion.version).where(ConfigVersion.id == 1)


def batch_key() -> tuple[str, int] | None:
    """(database, version) as this batch's transaction sees it, read once per batch; None outside one."""
    cache = group_commit.batch_cache()
    if cache is None:
        return None
    if KEY not in cache:
        version = db.session.connection().execute(VERSION).scalar()  # Core: a fraction of the ORM's cost
        if version is None:
            version = _restore_version()
        cache[KEY] = (db.engine.url.render_as_string(hide_password=True), version)
    return cache[KEY]


def _restore_version() -> int:
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    db.session.execute(insert(ConfigVersion.__table__).values(id=1, version=secrets.randbits(62))
                       .on_conflict_do_nothing())
    return db.session.execute(select(ConfigVersion.version).where(ConfigVersion.id == 1)).scalar_one()


def _valid_for(key: tuple[str, int]) -> None:
    """Drop everything cached at another (database, version). Call with _lock held."""
    global _key, _windows
    if _key != key:
        _key, _windows = key, None
        _configurations.clear()


def configuration(config_id: int) -> Configuration | None:
    """The configuration in the current session, its endpoints and enabled flows ready without a
    SELECT when the version is the one cached at (a batch); else ``session.get``."""
    global hits, misses
    key = batch_key()
    if key is None:
        return db.session.get(Configuration, config_id)
    cache = group_commit.batch_cache() or {}
    merged = cache.setdefault(MERGED, {})
    if config_id in merged:
        return merged[config_id]
    with _lock:
        _valid_for(key)
        entry = _configurations.get(config_id)
    if entry is None:
        misses += 1
        entry = _read(config_id)
        if entry is None:
            return None
        with _lock:
            if _key == key:
                _configurations[config_id] = entry
    else:
        hits += 1
    cfg = db.session.merge(entry.configuration, load=False)
    db.session.info.setdefault(FLOWS_KEY, {})[config_id] = entry.flows
    merged[config_id] = cfg
    return cfg


def windows() -> list[MaintenanceWindow] | None:
    """Every maintenance window (detached, read-only), or None outside a batch (read them afresh)."""
    global _windows
    key = batch_key()
    if key is None:
        return None
    with _lock:
        _valid_for(key)
        found = _windows
    if found is None:
        found = _own_session(lambda s: s.query(MaintenanceWindow).order_by(MaintenanceWindow.id).all())
        with _lock:
            if _key == key:
                _windows = found
    return found


def _read(config_id: int) -> Entry | None:
    def read(s: Session) -> Entry | None:
        cfg = s.get(Configuration, config_id)
        if cfg is None:
            return None
        list(cfg.endpoints)  # loaded, so the merge carries them
        flows = s.query(Flow).filter_by(configuration_id=config_id, enabled=True).order_by(Flow.id).all()
        return Entry(cfg, flows)
    return _own_session(read)


def _own_session(read):
    """``read(session)`` in a session of its own on the batch's connection (so in its transaction, after
    the version was read), closed before the objects are used: they are detached and clean."""
    session = Session(bind=db.session.connection(), expire_on_commit=False, autoflush=False)
    try:
        return read(session)
    finally:
        session.close()


def clear() -> None:
    """Forget everything (tests)."""
    global _key, _windows
    with _lock:
        _key, _windows = None, None
        _configurations.clear()
