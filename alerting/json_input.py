"""JSON from outside (trigger bodies, REST bodies): parsed with the limits a hostile sender needs.

Python's parser recurses once per nesting level and the database cannot store a lone surrogate,
so both are refused with a FieldError naming the problem before they reach either.
"""
from __future__ import annotations

import json
import re
from itertools import accumulate

from alerting.errors import FieldError

MAX_DEPTH = 64  # real senders nest under 10; Python's parser would recurse a thousand deep
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_MAY_HOLD_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")
_DIGITS = re.compile(r"value has (\d+) digits")


def parse_json(raw: bytes | str, field: str = "body"):
    """The value of ``raw``; FieldError(``field``, ...) for malformed JSON, nesting deeper than
    MAX_DEPTH, a number too long to convert, or (naming its own field) a lone surrogate."""
    text = _decoded(raw, field)
    _check_depth(text, field)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FieldError(field, f"malformed JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except ValueError as exc:  # int-max-str-digits: Python refuses to convert a very long integer
        found = _DIGITS.search(str(exc))
        digits = f" ({found.group(1)} digits)" if found else ""
        raise FieldError(field, f"a number is too long{digits}; send at most 4300 digits, "
                                "or send the number as a string") from None
    if _MAY_HOLD_SURROGATE.search(text):
        _check_surrogates(value, None)
    return value


def _decoded(raw: bytes | str, field: str) -> str:
    if isinstance(raw, str):
        return raw
    try:
        # as json.loads(bytes) does: UTF-8, or UTF-16/32 told apart by their zero bytes
        return raw.decode(json.detect_encoding(raw), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise FieldError(field, f"malformed JSON (not UTF-8: byte {exc.start})") from None


def _check_depth(text: str, field: str) -> None:
    """FieldError when arrays and objects nest deeper than MAX_DEPTH (strings' brackets don't count)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # the common case: too few brackets to nest that deep
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if brackets and max(accumulate(map(_BRACKET_STEP.__getitem__, brackets))) > MAX_DEPTH:
        raise FieldError(field, f"arrays and objects are nested more than {MAX_DEPTH} deep")


def _check_surrogates(value, path: str | None) -> None:
    if isinstance(value, str):
        if _has_lone_surrogate(value):
            raise FieldError(path or "body", "holds a lone surrogate (\\ud800-\\udfff), which is not text")
    elif isinstance(value, dict):
        for key, item in value.items():
            name = key.encode("utf-8", "backslashreplace").decode()  # printable even when it is the culprit
            child = f"{path}.{name}" if path else name
            if _has_lone_surrogate(key):
                raise FieldError(child, "the name holds a lone surrogate (\\ud800-\\udfff), which is not text")
            _check_surrogates(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_surrogates(item, f"{path or 'body'}[{index}]")


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
