"""Shared column helpers: naive UTC timestamps and public ids."""
import uuid
from datetime import UTC, datetime

from extensions import db


def utcnow():
    """Naive UTC now: every timestamp in the database is naive UTC (same on SQLite and PostgreSQL)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_uuid():
    return str(uuid.uuid4())


def iso(dt):
    """ISO 8601 with a Z, for the REST API."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if dt else None


__all__ = ["db", "iso", "new_uuid", "utcnow"]
