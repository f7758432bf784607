"""Log records that a request cannot forge: control characters are shown escaped, never written.

A path like ``/respond/x%0A2030-01-01 ... ERROR ...`` would otherwise print a line of its own,
and ANSI escapes would repaint the operator's terminal. Every record is one line; a traceback
keeps its lines, each indented, so a line that starts at the margin always starts a record.
"""
from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger as GunicornBaseLogger

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# C0 controls but tab, DEL, C1 controls (NEL among them) and the Unicode line and paragraph separators
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def escape(text: str) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\x1b``, ``\\u2028``)."""
    return _CONTROL.sub(_escaped, text)


def _escaped(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def escape_block(text: str) -> str:
    """A multi-line block (a traceback): each line escaped and indented under its record."""
    return "\n".join("  " + escape(line) for line in text.split("\n"))


class SafeFormatter(logging.Formatter):
    """A Formatter whose output holds no control character but the newlines it puts before a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = escape(self.formatMessage(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text += "\n" + escape_block(record.exc_text)
        if record.stack_info:
            text += "\n" + escape_block(self.formatStack(record.stack_info))
        return text


def configure(level: str | int) -> None:
    """Klaxon's logging: ``logging.basicConfig`` at ``level``, its handler with a SafeFormatter."""
    handler = logging.StreamHandler()  # stderr, as basicConfig's own
    handler.setFormatter(SafeFormatter(FORMAT))
    logging.basicConfig(level=level, handlers=[handler])


class GunicornLogger(GunicornBaseLogger):
    """gunicorn's logger (``--logger-class``) with its error and access logs escaped alike."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                current = handler.formatter or logging.Formatter()
                handler.setFormatter(SafeFormatter(current._fmt, current.datefmt))
