"""The response options an alert offers (SPEC §2): the trigger's, or the configuration's.

A trigger's entry may pick one of the configuration's options by ``id`` or ``number`` instead of
spelling it out (the Remedy integration does). A pick that matches none is left out and said in
the 202's warnings, rather than losing the alert over it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from models import Configuration


@dataclass
class Options:
    """The options an alert gets, and a sentence per pick that matched nothing."""
    options: list
    warnings: list = field(default_factory=list)


def for_alert(cfg: Configuration, given: list | None) -> Options:
    """``given`` (the trigger's, picks resolved) when it names any; else the configuration's own."""
    own = list(cfg.response_options or [])
    if given is None:
        return Options(own)
    chosen, warnings, seen = [], [], set()
    for i, entry in enumerate(given):
        option = pick(own, entry["pick"]) if "pick" in entry else entry
        if option is None:
            warnings.append(f"responseOptions[{i}] picks {_said(entry['pick'])}, which is not one of this "
                            "configuration's response options; it was left out.")
        elif option["text"].lower() not in seen:
            seen.add(option["text"].lower())
            chosen.append(dict(option))
    if not chosen and any("pick" in entry for entry in given):
        return Options(own, warnings)  # nothing picked matched: the configuration's options, not none
    return Options(chosen, warnings)


def pick(own: list, wanted: dict) -> dict | None:
    """The configuration's option with that ``id`` (or text), or that ``number`` (or 1-based position)."""
    if "number" in wanted:
        number = wanted["number"]
        found = next((o for o in own if o.get("number") == number), None)
        if found is None and not any("number" in o for o in own) and number <= len(own):
            found = own[number - 1]
        return found
    key = wanted["id"]
    return next((o for o in own if str(o.get("id", "")) == key), None) or \
        next((o for o in own if o["text"].lower() == key.lower()), None)


def _said(wanted: dict) -> str:
    return f"number {wanted['number']}" if "number" in wanted else f"id {wanted['id']!r}"
