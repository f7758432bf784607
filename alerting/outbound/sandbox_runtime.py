"""What one render of the sandbox may still spend, and the globals and filters that spend it.

A render carries a :class:`Deadline`, an optional budget of loop turns and calls, and a count of
the characters it has produced (its output, and text built inside macros and ``{% set %}``
blocks). The sandbox's rewritten templates call the private filters here (``_loop``, ``_emit``,
``_built``, ``_concat``) and every other filter through :func:`guarded`, which checks the
deadline and the size of the arguments before the filter runs.
"""
from __future__ import annotations

import contextvars
import functools
import json
import time
from dataclasses import dataclass

from jinja2 import pass_context, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS

from alerting.outbound import sandbox_bounds as bounds
from alerting.outbound.sandbox_bounds import MAX_CALL_DEPTH, MAX_RANGE, MAX_VALUE, MAX_WIDTH


class Deadline:
    """A time limit; one may be shared by several renders (a custom mapping's fields)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds


@dataclass
class Render:
    """What one render may still spend: loop turns and calls, characters produced, time."""
    deadline: Deadline
    budget: int | None
    turns_left: int | None
    produced: int = 0
    depth: int = 0  # calls (macros included) in progress, one inside another


_current: contextvars.ContextVar[Render | None] = contextvars.ContextVar("klaxon_sandbox_render", default=None)


def begin(deadline: Deadline, budget: int | None) -> contextvars.Token:
    """Start spending for one render (pass the result to :func:`end`)."""
    return _current.set(Render(deadline, budget, budget))


def end(token: contextvars.Token) -> None:
    """The render is over: what it spent no longer counts."""
    _current.reset(token)


def tick() -> Render | None:
    """Raise once the render is past its deadline; return what it may still spend (None outside one)."""
    render = _current.get()
    if render is not None and time.monotonic() > render.deadline.at:
        raise SecurityError(f"the template took longer than {render.deadline.seconds:g} s to render")
    return render


def spend() -> None:
    """One loop turn or call: checks the deadline and, under a budget, spends one of it."""
    render = tick()
    if render is not None and render.turns_left is not None:
        render.turns_left -= 1
        if render.turns_left < 0:
            raise SecurityError(f"the template did more than {render.budget} loop turns and calls")


def enter_call() -> Render | None:
    """A call starts: spend one turn and refuse calls nested deeper than MAX_CALL_DEPTH.

    A recursive macro is stopped here, long before Python's own recursion limit.
    """
    spend()
    render = _current.get()
    if render is not None:
        if render.depth >= MAX_CALL_DEPTH:
            raise SecurityError(f"calls nested more than {MAX_CALL_DEPTH} deep are not allowed")
        render.depth += 1
    return render


def leave_call(render: Render | None) -> None:
    """The call that :func:`enter_call` started is over."""
    if render is not None:
        render.depth -= 1


def _produce(count: int) -> None:
    render = _current.get()
    if render is not None:
        render.produced += count
        if render.produced > MAX_VALUE:
            raise SecurityError(f"the template built more than {MAX_VALUE} characters of text")


@pass_context
def loop(_context, iterable):
    """Every ``{% for %}`` loops through this, so each turn spends the render's budget and time."""
    for item in iterable:
        spend()
        yield item


@pass_context
def emit(_context, value):
    """Every output, the template's own text included, counted each time (a loop may repeat it)."""
    tick()
    _produce(bounds.size(value))
    return value


def built(value):
    """A list, tuple or dict literal: within MAX_VALUE, however much it nests or repeats."""
    bounds.check_value(value)
    return value


def concat(parts):
    """``a ~ b``: the joined text, sized before it is built."""
    tick()
    bounds.check_value(list(parts), "text")
    return "".join(str(part) for part in parts)


def bounded_range(*args):
    """``range()`` of at most the budget's numbers (MAX_RANGE without a budget)."""
    numbers = range(*args)
    render = _current.get()
    limit = render.budget if render is not None and render.budget is not None else MAX_RANGE
    if len(numbers) > limit:
        raise SecurityError(f"range() of more than {limit} numbers")
    return numbers


def tojson(value, indent=None):
    """JSON text (non-ASCII kept, other objects as their text), its indented size checked first."""
    bounds.check_json(value, indent)
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str)


def guarded(func, check=None):
    """A filter that checks the deadline and the size of its arguments (and ``check``) first."""
    passes_arg = getattr(func, "jinja_pass_arg", None) is not None

    @functools.wraps(func)  # keeps Jinja's pass_context / pass_eval_context marker
    def filter_(*args, **kwargs):
        tick()
        own = args[1:] if passes_arg else args
        bounds.check_arguments(own, kwargs)
        if check is not None:
            check(*own, **kwargs)
        return func(*args, **kwargs)
    return filter_


@pass_eval_context
def join(eval_ctx, value, d="", attribute=None):
    """Jinja's join, the joined size checked first."""
    items = list(value)  # a generator (map, select) is read once, here, and checked
    bounds.check_join(items, d)
    return FILTERS["join"](eval_ctx, items, d, attribute)


def _numeric_start(_iterable, attribute=None, start=0):
    if not isinstance(start, (int, float)):
        raise SecurityError("sum() adds numbers only")


def _width(_value, width=80, *_args, **_kwargs):
    if isinstance(width, int) and width >= MAX_WIDTH:
        raise SecurityError(f"widths of {MAX_WIDTH} or more are not allowed")


# Checks run before the filters whose arguments size their result (called with the filter's own parameters).
CHECKS = {
    "replace": lambda s, old, new, count=None: bounds.check_replace(s, old, new, count),
    "format": lambda value, *args, **kwargs: bounds.check_percent(str(value), kwargs or args),
    "sum": _numeric_start, "center": _width,
    "batch": lambda _value, linecount, *_a, **_k: bounds.check_count(linecount, "batches"),
    "slice": lambda _value, slices, *_a, **_k: bounds.check_count(slices, "slices"),
}


def checked_filters(filters: dict, removed: tuple) -> dict:
    """Jinja's ``filters`` less ``removed``, each behind :func:`guarded`, and the private filters
    the sandbox's rewritten templates call."""
    kept = {name: func for name, func in filters.items() if name not in removed}
    kept.update({"tojson": tojson, "join": join})
    checked = {name: guarded(func, CHECKS.get(name)) for name, func in kept.items()}
    checked.update({"_loop": loop, "_emit": emit, "_built": built, "_concat": concat})
    return checked
