"""Row ids as they come in URLs, cursors and sessions: ASCII digits within the database's range.

``str.isdigit`` also accepts "³" and "٣" (which ``int`` then refuses or reads as 3), and a
20-digit id overflows the database's integer: both used to reach the database as a 500.
"""
from __future__ import annotations

from typing import Any

from alerting.errors import NotFound
from extensions import db

MAX_ROW_ID = 2**31 - 1  # PostgreSQL INTEGER, the type of every id column
_ASCII_DIGITS = frozenset("0123456789")


def row_id(text) -> int | None:
    """``text`` as a row id (0 to MAX_ROW_ID, ASCII digits only), else None."""
    text = str(text)
    if not text or len(text) > 10 or not _ASCII_DIGITS.issuperset(text):
        return None
    value = int(text)
    return value if value <= MAX_ROW_ID else None


def owned_row(model: Any, number: int, missing: str, **owner: object) -> Any:
    """The ``model`` row with id ``number`` whose ``owner`` columns match, else NotFound(``missing``).

    Another owner's row is not found either: ``/users/a/devices/7`` never reaches user b's device 7.
    """
    row = db.session.get(model, number)
    if row is None or any(getattr(row, column) != value for column, value in owner.items()):
        raise NotFound(missing)
    return row
