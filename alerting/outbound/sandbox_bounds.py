"""The sandbox's limits and the estimates that enforce them before the work is done.

Every check here looks at the operands of an operation (their lengths, bit lengths, format
widths) and refuses it if its result would pass a limit, so nothing large is ever built or
computed only to be thrown away: ``(3 ** 4096) ** 4096`` is refused from ``4096 * log2(3 ** 4096)``,
not after minutes of multiplication. Each check raises jinja2's SecurityError, which the sandbox
reports as "not allowed".
"""
from __future__ import annotations

import math
import re
from collections import Counter

from jinja2.exceptions import SecurityError

MAX_OUTPUT = 64 * 1024  # characters one render may return
MAX_VALUE = 1024 * 1024  # characters or items of any value a template builds, passes or outputs in all
MAX_INT_BITS = 16 * 1024  # bits of any number a template computes (str() stops at 4300 digits anyway)
MAX_WIDTH = 1000  # format widths and precisions, center() widths and tojson indents are below this
MAX_RANGE = 100_000  # numbers in one range() when no budget of loop turns bounds it
MAX_CALL_DEPTH = 64  # calls (macros included) one inside another
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?([-#0 +]*)(\*|\d*)(?:\.(\*|\d*))?[hlL]?([a-zA-Z%])")
_FORMAT_SPEC = re.compile(r"\{[^{}]*?:([^{}]*)([{}])")
_OTHER = 16  # what an object of another kind (a macro, an undefined value) is counted as


def size(value, limit: int = MAX_VALUE) -> int:
    """Roughly how many characters ``str(value)`` has, counting containers item by item.

    A container shared by reference counts every time it appears (``[a, a]`` is twice ``a``), so
    nesting a value in itself cannot multiply it unseen. Each distinct object is sized once (its
    repeats are counted at C speed), and the walk stops as soon as the total passes ``limit``.
    """
    if not isinstance(value, _CONTAINERS):
        return _scalar(value) if not isinstance(value, str) else len(value)
    known: dict[int, int] = {}
    stack: list = [(value, None)]
    while stack:
        item, counted = stack.pop()
        if id(item) in known:
            continue
        if counted is None:
            children = _children(item)
            counted = (dict(zip(map(id, children), children, strict=True)), Counter(map(id, children)))
            stack.append((item, counted))
            stack.extend((child, None) for child in counted[0].values() if isinstance(child, _CONTAINERS))
            continue
        unique, times = counted
        total = 2 + (2 * len(item) if isinstance(item, dict) else 0)
        for key, child in unique.items():
            total += times[key] * (known[key] if isinstance(child, _CONTAINERS) else _scalar(child))
            if total > limit:
                return total  # the whole holds this part, so it is over the limit too
        known[id(item)] = total
    return known[id(value)]


_CONTAINERS = (list, tuple, dict)


def _children(item) -> list:
    return [*item.keys(), *item.values()] if isinstance(item, dict) else list(item)


def _scalar(item) -> int:
    if isinstance(item, str):
        return len(item) + 4  # quotes, comma and space in a list's text
    if isinstance(item, bool) or item is None:
        return 5
    if isinstance(item, int):
        return item.bit_length() // 3 + 2
    if isinstance(item, float):
        return 24
    return _OTHER


def check_value(value, what: str = "value") -> None:
    """Refuse a value over MAX_VALUE characters or items."""
    if size(value) > MAX_VALUE:
        raise SecurityError(f"that would make a {what} of more than {MAX_VALUE} characters or items")


def check_arguments(args: tuple, kwargs: dict) -> None:
    """Refuse a call or filter whose arguments together are over MAX_VALUE characters or items."""
    if size(list(args) + list(kwargs.values())) > MAX_VALUE:
        raise SecurityError(f"arguments of more than {MAX_VALUE} characters or items are not allowed")


def check_binop(operator: str, left, right) -> None:
    """``*``, ``**``, ``+`` and ``%``: refuse before computing a result past MAX_VALUE or MAX_INT_BITS."""
    if operator == "**":
        _check_power(left, right)
    elif operator == "*":
        if _is_int(left) and _is_int(right):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise SecurityError(f"'*' would make a number of more than {MAX_INT_BITS} bits")
            return
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and _is_int(times) and size(seq) * max(times, 0) > MAX_VALUE:
                raise SecurityError(f"'*' would make a value of more than {MAX_VALUE} characters or items")
    elif operator == "+":
        if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)) \
                and size(left) + size(right) > MAX_VALUE:
            raise SecurityError(f"'+' would make a value of more than {MAX_VALUE} characters or items")
    elif operator == "%" and isinstance(left, str):
        check_percent(left, right)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_power(base, exponent) -> None:
    """An int power's bits are ``exponent * log2(|base|)``: refuse it past MAX_INT_BITS."""
    if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1 \
            and exponent * math.log2(abs(base)) > MAX_INT_BITS:
        raise SecurityError(f"exponents that make a number of more than {MAX_INT_BITS} bits are not allowed")


def _check_width(text: str) -> int:
    if text == "*" or "{" in text:
        raise SecurityError("format widths taken from arguments are not allowed")
    width = int(text) if text.isdigit() else 0
    if width >= MAX_WIDTH:
        raise SecurityError(f"format widths of {MAX_WIDTH} or more are not allowed")
    return width


def check_percent(fmt: str, args) -> None:
    """``fmt % args``: widths below MAX_WIDTH and not taken from arguments, and a result within MAX_VALUE."""
    specs = widths = 0
    for _flags, width, precision, _kind in _PERCENT_SPEC.findall(fmt):
        specs += 1
        widths += _check_width(width) + _check_width(precision or "")
    # a mapping can be named by every spec: count it once per spec
    taken = size(args) * (specs if isinstance(args, dict) else 1)
    if len(fmt) + widths + taken > MAX_VALUE:
        raise SecurityError(f"%-formatting would make a text of more than {MAX_VALUE} characters")


def format_cost(fmt: str) -> tuple[int, int]:
    """``str.format`` fields of ``fmt`` (at most) and the characters its widths add; refuse wide or nested specs.

    Read with regular expressions, not string.Formatter, so a long format costs no Python loop.
    """
    widths = 0
    for spec, end in _FORMAT_SPEC.findall(fmt):
        if end == "{":
            raise SecurityError("format widths taken from arguments are not allowed")
        widths += sum(_check_width(number) for number in re.findall(r"\d+", spec))
    return fmt.count("{"), widths


def check_format_call(fmt: str, args: tuple, kwargs: dict) -> None:
    """``fmt.format(*args, **kwargs)``: each field may repeat the biggest argument."""
    fields, widths = format_cost(fmt)
    values = [*args, *kwargs.values()]
    biggest = max((size(value) for value in values), default=0)
    if len(fmt) + widths + fields * biggest > MAX_VALUE:
        raise SecurityError(f"format() would make a text of more than {MAX_VALUE} characters")


def check_replace(text, old, new, count=None) -> None:
    """Each match grows the text by len(new), so a long ``new`` could build gigabytes."""
    text, old, new = str(text), str(old), str(new)
    matches = text.count(old) if count is None or count < 0 else min(count, text.count(old))
    if len(text) + matches * len(new) > MAX_VALUE:
        raise SecurityError(f"replace() would build more than {MAX_VALUE} characters")


def check_join(items: list, separator) -> None:
    """The joined text: every item and a separator between each two."""
    if len(str(separator)) * max(len(items) - 1, 0) + size(items) > MAX_VALUE:
        raise SecurityError(f"join would build more than {MAX_VALUE} characters")


def check_json(value, indent) -> None:
    """``tojson``: an indent below MAX_WIDTH, and the indented text (depth times indent per item) within MAX_VALUE."""
    step = _check_width(str(indent)) if _is_int(indent) else size(indent) if isinstance(indent, str) else 0
    total, stack = 0, [(value, 0)]
    while stack and total <= MAX_VALUE:
        item, depth = stack.pop()
        total += step * depth + (max(1, size(item)) if not isinstance(item, (dict, list, tuple)) else 2)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for pair in item.items() for child in pair)
        elif isinstance(item, (list, tuple)):
            stack.extend((child, depth + 1) for child in item)
    if total > MAX_VALUE:
        raise SecurityError(f"tojson would make a text of more than {MAX_VALUE} characters")


def check_count(number, what: str) -> None:
    """A count that sizes a result (batch, slice): at most MAX_RANGE."""
    if _is_int(number) and number > MAX_RANGE:
        raise SecurityError(f"{what} of more than {MAX_RANGE} are not allowed")
