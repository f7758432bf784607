"""The shift editor's form <-> the group JSON of the REST API (SPEC §9).

Form fields are named by the API's field paths (``shifts[0].recurrence.byDay``,
``shifts[0].timeline[1].delayMinutes``), so the one validator (``notifications.shifts.apply_on_call``)
names the field an error belongs beside. Buttons named ``op`` change the draft (add, remove or
move a member or a shift) without saving; only "Save" applies it.
"""
from __future__ import annotations

from blueprints.dashboard.forms import whole_number

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_DRAFT_SHIFTS, MAX_DRAFT_MEMBERS = 50, 200


def _count(form, prefix: str, maximum: int) -> int:
    """How many indexed entries (``prefix[i].…``) the form holds, by the highest index given."""
    highest = -1
    for key in form:
        if key.startswith(prefix + "["):
            index = key[len(prefix) + 1:].split("]", 1)[0]
            if index.isdigit() and int(index) < maximum:
                highest = max(highest, int(index))
    return highest + 1


def _recurrence(form, at: str) -> dict | None:
    frequency = form.get(f"{at}.frequency", "")
    if not frequency:
        return None
    data: dict = {"frequency": frequency}
    if form.get(f"{at}.interval", "").strip():
        data["interval"] = whole_number(form.get(f"{at}.interval"))
    days = form.getlist(f"{at}.byDay")
    if days:
        data["byDay"] = days
    month_days = [d.strip() for d in form.get(f"{at}.byMonthDay", "").split(",") if d.strip()]
    if month_days:  # "1, 15, -1": the validator names a wrong one as byMonthDay[i]
        data["byMonthDay"] = [whole_number(d) for d in month_days]
    if form.get(f"{at}.until", "").strip():
        data["until"] = form[f"{at}.until"].strip()
    if form.get(f"{at}.count", "").strip():
        data["count"] = whole_number(form.get(f"{at}.count"))
    return data


def _timeline(form, at: str) -> tuple[list[dict], list[str]]:
    entries, excluded = [], []
    for j in range(_count(form, f"{at}.timeline", MAX_DRAFT_MEMBERS)):
        where = f"{at}.timeline[{j}]"
        if f"{where}.member" not in form:
            continue
        member = form.get(f"{where}.member", "").strip()
        entries.append({"member": member, "recipientType": form.get(f"{where}.recipientType", "PERSON"),
                        "delayMinutes": whole_number(form.get(f"{where}.delayMinutes")) or 0})
        if form.get(f"{where}.excluded"):
            excluded.append(member)
    return entries, excluded


def shift_from_form(form, i: int) -> dict:
    """Shift ``i`` of the form as the API's shift object."""
    at = f"shifts[{i}]"
    timeline, excluded = _timeline(form, at)
    rotation: dict = {"direction": form.get(f"{at}.rotation.direction", "NONE"),
                      "every": form.get(f"{at}.rotation.every", "SHIFT"), "exclude": excluded}
    if form.get(f"{at}.rotation.intervalHours", "").strip():
        rotation["intervalHours"] = whole_number(form.get(f"{at}.rotation.intervalHours"))
    return {"name": form.get(f"{at}.name", "").strip(), "start": form.get(f"{at}.start", ""),
            "end": form.get(f"{at}.end", ""), "recurrence": _recurrence(form, f"{at}.recurrence"),
            "timeline": timeline, "rotation": rotation,
            "repeat": {"afterMinutes": whole_number(form.get(f"{at}.repeat.afterMinutes")) or 0,
                       "times": whole_number(form.get(f"{at}.repeat.times")) or 0}}


def on_call_from_form(form) -> dict:
    """The editor's form as the body of ``PATCH /api/v1/groups/{name}``: ``timezone`` and ``shifts``."""
    shifts = [shift_from_form(form, i) for i in range(_count(form, "shifts", MAX_DRAFT_SHIFTS))
              if f"shifts[{i}].name" in form]
    return {"timezone": form.get("timezone", "UTC").strip() or "UTC", "shifts": shifts}


def blank_shift(n: int) -> dict:
    """A new shift for the draft: weekdays 09:00-17:00 from next Monday is the commonest first one."""
    from datetime import date, timedelta

    monday = date.today() + timedelta(days=7 - date.today().weekday())
    return {"name": f"Shift {n}", "start": f"{monday}T09:00", "end": f"{monday}T17:00",
            "recurrence": {"frequency": "WEEKLY", "byDay": list(DAYS[:5])},
            "timeline": [], "rotation": {"direction": "NONE", "every": "SHIFT", "exclude": []},
            "repeat": {"afterMinutes": 0, "times": 0}}


def _index(parts: list[str], n: int, length: int) -> int | None:
    if len(parts) <= n or not parts[n].isdigit() or int(parts[n]) >= length:
        return None
    return int(parts[n])


def apply_op(draft: dict, op: str, form) -> None:
    """One change to the draft asked by an ``op`` button: ``add-shift``, ``remove-shift:i``,
    ``add-member:i``, ``remove-member:i:j``, ``up:i:j``, ``down:i:j``."""
    parts = op.split(":")
    shifts = draft["shifts"]
    if parts[0] == "add-shift" and len(shifts) < MAX_DRAFT_SHIFTS:
        shifts.append(blank_shift(len(shifts) + 1))
        return
    i = _index(parts, 1, len(shifts))
    if i is None:
        return
    timeline = shifts[i]["timeline"]
    if parts[0] == "remove-shift":
        shifts.pop(i)
    elif parts[0] == "add-member" and len(timeline) < MAX_DRAFT_MEMBERS:
        kind, _sep, name = form.get(f"shifts[{i}].new", "PERSON:").partition(":")
        if name:
            timeline.append({"member": name, "recipientType": kind, "delayMinutes": 0 if not timeline else 10})
    else:
        j = _index(parts, 2, len(timeline))
        if j is None:
            return
        if parts[0] == "remove-member":
            removed = timeline.pop(j)
            exclude = shifts[i]["rotation"].get("exclude") or []
            shifts[i]["rotation"]["exclude"] = [n for n in exclude if n != removed["member"]]
        elif parts[0] in ("up", "down"):
            k = j - 1 if parts[0] == "up" else j + 1
            if 0 <= k < len(timeline):
                timeline[j], timeline[k] = timeline[k], timeline[j]


def errors_at(errors: dict[str, str], path: str) -> list[str]:
    """Messages for ``path`` and its entries (``byDay`` shows ``byDay[0]``'s error too)."""
    return [m for k, m in errors.items() if k == path or k.startswith(path + "[")]
