"""New rows written with one pre-compiled INSERT each, not through the ORM's unit of work (issue 17).

A new alert, its first timeline entries and its update webhook messages are the integration URL's
writes. Flushing them as ORM objects cost ~0.4 ms of the group-commit writer's ~1 ms of CPU per
alert (and ~0.35 ms more per outbox message), in the unit of work's bookkeeping around small
INSERTs. ``insert(obj)`` writes a new mapped object's row with an INSERT … RETURNING id compiled
once per table and dialect, run on the session's own DBAPI connection (so in its transaction),
with each column's value put through its type's bind processor as SQLAlchemy would (JSON,
SQLite's datetimes). The object then joins the session as persistent and clean: it has its id,
and what the ORM reads of it later is what was written.

A column left None on the object gets its Python default, as the ORM's INSERT would (the value is
set on the object too); a JSON column's None is JSON null, as the ORM writes it.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, inspect
from sqlalchemy import insert as sql_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import make_transient_to_detached

from alerting.alerts import group_commit
from extensions import db

CONNECTION = "rows_connection"  # batch cache: the batch's Connection


@dataclass(frozen=True)
class Prepared:
    sql: str
    positional: bool
    names: tuple[str, ...]  # the bound columns, in the statement's parameter order when positional
    columns: tuple  # (column, the object's attribute for it), every column but the id
    processors: dict  # column name -> the type's bind processor for the dialect (only those that have one)


_prepared: dict[tuple[str, str], Prepared] = {}  # two threads preparing one at once store equal values


def _prepare(cls, dialect) -> Prepared:
    table = cls.__table__
    key = (table.name, dialect.name)
    found = _prepared.get(key)
    if found is None:
        mapper = inspect(cls)
        columns = [c for c in table.columns if c.name != "id"]
        statement = sql_insert(table).values({c.name: bindparam(c.name, type_=c.type) for c in columns}) \
            .returning(table.c.id)
        compiled = statement.compile(dialect=dialect)
        positional = bool(compiled.positional)
        names = tuple(compiled.positiontup or ()) if positional else tuple(c.name for c in columns)
        processors = {}
        for column in columns:
            processor = column.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[column.name] = processor
        attributes = tuple((c, mapper.get_property_by_column(c).key) for c in columns)
        found = Prepared(str(compiled), positional, names, attributes, processors)
        _prepared[key] = found
    return found


def _value(obj, column, attribute: str):
    value = getattr(obj, attribute, None)
    if value is None and column.default is not None and not column.type.should_evaluate_none:
        default = column.default
        value = default.arg(None) if default.is_callable else default.arg
        setattr(obj, attribute, value)
    return value


def _connection():
    """The session's Connection: asked for once per group-commit batch (``session.connection()``
    costs more than the INSERT), else every time."""
    cache = group_commit.batch_cache()
    if cache is None:
        return db.session.connection()
    found = cache.get(CONNECTION)
    if found is None:
        found = cache[CONNECTION] = db.session.connection()
    return found


def insert(obj) -> int:
    """INSERT ``obj``'s row (a new object of a mapped class whose table's key is ``id``) in the
    session's transaction; its id. ``obj`` is then in the session, persistent, with nothing pending."""
    connection = _connection()
    prepared = _prepare(type(obj), connection.dialect)
    values = {column.name: _value(obj, column, attribute) for column, attribute in prepared.columns}
    for name, processor in prepared.processors.items():
        values[name] = processor(values[name])
    params = tuple(values[name] for name in prepared.names) if prepared.positional else values
    dbapi_connection = connection.connection.dbapi_connection
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(prepared.sql, params)
            row_id = cursor.fetchone()[0]
        finally:
            cursor.close()
    except connection.dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy's own error: callers catch DBAPIError
        raise DBAPIError.instance(prepared.sql, params, exc, connection.dialect.loaded_dbapi.Error,
                                  dialect=connection.dialect) from None
    obj.id = row_id
    make_transient_to_detached(obj)
    db.session.add(obj)
    return row_id
