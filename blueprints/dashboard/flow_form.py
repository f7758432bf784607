"""The flow editor's forms (issue 19): a flow's steps as nested forms, back to steps, and the edits its
buttons make (add, move, remove steps and branches) without saving.

A form names each step by a prefix: top-level steps ``s0``, ``s1``; a switch's branches ``s1.b0``;
their steps ``s1.b0.s0``. Hidden ``step`` and ``branch`` inputs list the prefixes in page order, so
the tree is rebuilt from whatever the form holds. While edited, a switch keeps its branches as a list
(``branches``: ``case``, ``steps``, ``beside``) so that a new branch may have no value yet;
:func:`definition_steps` turns them back into ``cases`` and names a missing or repeated value.
"""
from __future__ import annotations

import json
import re

from alerting.errors import Checks, FieldError
from alerting.flows.validate import FIELDS

# The fields each kind of step shows as text inputs, and as key/value rows, in the order they are kept.
TEXT_FIELDS = {"http_request": ("method", "url", "body"),
               "create_alert": ("configuration", "subject", "message", "priority", "dedupKey"),
               "update_alert": ("action", "comment"),
               "switch": ("value",)}
MAP_FIELDS = {"http_request": ("headers",), "create_alert": ("properties",)}
ORDER = {"http_request": ("method", "url", "headers", "body"),
         "create_alert": ("configuration", "subject", "message", "priority", "properties", "dedupKey")}
NEW_STEP = {"http_request": {"method": "POST"}, "create_alert": {}, "update_alert": {"action": "comment"},
            "switch": {"value": "{{ alert.priority }}"}}
NAME_STEM = {"http_request": "request", "create_alert": "new_alert", "update_alert": "update", "switch": "branch"}
MAX_FORM_STEPS = 200  # the validator allows 50; a form claiming more is cut here, not looped over
OP = re.compile(r"^(add|remove|up|down|addbranch|removebranch|refresh|view):(.*)$")


def editable(steps, field: str = "steps") -> list[dict]:
    """Saved (or typed) steps as the editor holds them; a shape forms cannot show names its field."""
    if not isinstance(steps, list):
        raise FieldError(field, "must be a list of steps to be shown as forms")
    out = []
    for i, step in enumerate(steps):
        path = f"{field}[{i}]"
        if not isinstance(step, dict):
            raise FieldError(path, "must be an object with name and type to be shown as forms")
        step = dict(step)
        if step.get("type") == "switch":
            cases = step.pop("cases", None)
            cases = {} if cases is None else cases
            if not isinstance(cases, dict):
                raise FieldError(f"{path}.cases", "must be an object of {value: [steps]} to be shown as forms")
            branches = [{"case": str(k), "steps": editable(v, f"{path}.cases.{k}"), "beside": False}
                        for k, v in cases.items()]
            if "default" in step:
                branches.append({"case": "default", "steps": editable(step.pop("default"), f"{path}.default"),
                                 "beside": True})
            step["branches"] = branches
        out.append(step)
    return out


def definition_steps(model: list[dict], field: str = "steps") -> list[dict]:
    """The editor's steps as a definition's; every branch without a value, or with a taken one, is named."""
    checks = Checks()
    steps = _definition(model, field, checks)
    checks.done()
    return steps


def _definition(model: list[dict], field: str, checks: Checks) -> list[dict]:
    out = []
    for i, step in enumerate(model):
        path = f"{field}[{i}]"
        kind = step.get("type")
        done = {"name": step.get("name"), "type": kind}
        done.update({k: step[k] for k in ORDER.get(kind, ()) if k in step})
        done.update({k: v for k, v in step.items() if k not in done and k != "branches"})
        if "branches" in step:
            cases: dict = {}
            for j, branch in enumerate(step["branches"]):
                case = branch["case"].strip()
                where = f"{path}.branches[{j}].case"
                if not case:
                    checks.run(_fail, where, "give the value this branch matches, or default")
                elif case in cases or (case == "default" and "default" in done):
                    checks.run(_fail, where, f"{case!r} already has a branch")
                elif branch.get("beside"):
                    done["default"] = _definition(branch["steps"], f"{path}.default", checks)
                else:
                    cases[case] = _definition(branch["steps"], f"{path}.cases.{case}", checks)
            done["cases"] = cases
        out.append(done)
    return out


def _fail(field: str, message: str) -> None:
    raise FieldError(field, message)


def rows_of(form, prefix: str) -> dict:
    """A key/value rows field (headers, properties); a row typed as JSON keeps its number, true or null."""
    keys, values = form.getlist(f"{prefix}.key"), form.getlist(f"{prefix}.value")
    kinds = form.getlist(f"{prefix}.kind")
    out = {}
    for i, (key, value) in enumerate(zip(keys, values, strict=False)):
        if not key.strip():
            continue
        if i < len(kinds) and kinds[i] == "json":
            try:
                value = json.loads(value)
            except ValueError:
                pass
        out[key.strip()] = value
    return out


def step_from_form(form, prefix: str) -> dict:
    kind = form.get(f"{prefix}.type", "")
    step: dict = {"name": form.get(f"{prefix}.name", "").strip(), "type": kind}
    for name in TEXT_FIELDS.get(kind, ()):
        value = form.get(f"{prefix}.{name}", "").replace("\r\n", "\n")
        if value.strip():
            step[name] = value
    for name in MAP_FIELDS.get(kind, ()):
        rows = rows_of(form, f"{prefix}.{name}")
        if rows:
            step[name] = rows
    try:
        extra = json.loads(form.get(f"{prefix}.extra") or "{}")
    except ValueError:
        extra = {}
    if isinstance(extra, dict):
        step.update({k: v for k, v in extra.items() if k not in step})
    if kind == "switch":
        step["branches"] = []
    return step


class FormTree:
    """The steps a posted form holds, and where each prefix sits, for the editor's buttons."""

    def __init__(self, form):
        self.lists: dict[str, list] = {"": []}
        self.steps: dict[str, dict] = {}
        self.branches: dict[str, tuple[dict, dict]] = {}
        for prefix in form.getlist("step")[:MAX_FORM_STEPS]:
            step = step_from_form(form, prefix)
            self.steps[prefix] = step
            self.lists.setdefault(prefix.rpartition(".")[0], []).append(step)
        for prefix in form.getlist("branch")[:MAX_FORM_STEPS]:
            owner = self.steps.get(prefix.rpartition(".")[0])
            if owner is None or "branches" not in owner:
                continue
            branch = {"case": form.get(f"{prefix}.case", ""), "beside": form.get(f"{prefix}.beside") == "1",
                      "steps": self.lists.setdefault(prefix, [])}
            owner["branches"].append(branch)
            self.branches[prefix] = (owner, branch)

    @property
    def model(self) -> list[dict]:
        return self.lists[""]

    def names(self) -> set[str]:
        return {s.get("name", "") for s in self.steps.values()}

    def apply(self, op: str, form) -> None:
        """Do what an editor button asks: ``add:<list>``, ``remove:<step>``, ``up:``/``down:<step>``,
        ``addbranch:<step>``, ``removebranch:<branch>``; anything else changes nothing."""
        match = OP.match(op or "")
        if not match:
            return
        verb, where = match.groups()
        if verb == "add" and where in self.lists:
            kind = form.get(f"kind:{where}", "")
            if kind in FIELDS:
                self.lists[where].append({"name": fresh_name(NAME_STEM[kind], self.names()), "type": kind,
                                          **json.loads(json.dumps(NEW_STEP[kind])),
                                          **({"branches": new_branches()} if kind == "switch" else {})})
        elif verb in ("remove", "up", "down") and where in self.steps:
            siblings = self.lists[where.rpartition(".")[0]]
            index = next(i for i, s in enumerate(siblings) if s is self.steps[where])
            if verb == "remove":
                del siblings[index]
            else:
                other = index + (-1 if verb == "up" else 1)
                if 0 <= other < len(siblings):
                    siblings[index], siblings[other] = siblings[other], siblings[index]
        elif verb == "addbranch" and where in self.steps and "branches" in self.steps[where]:
            branches = self.steps[where]["branches"]
            at = len(branches) - 1 if branches and branches[-1]["case"].strip() == "default" else len(branches)
            branches.insert(at, {"case": "", "steps": [], "beside": False})
        elif verb == "removebranch" and where in self.branches:
            owner, branch = self.branches[where]
            owner["branches"] = [b for b in owner["branches"] if b is not branch]


def new_branches() -> list[dict]:
    return [{"case": "HIGH", "steps": [], "beside": False}, {"case": "default", "steps": [], "beside": False}]


def fresh_name(stem: str, taken: set[str]) -> str:
    """``stem_1``, ``stem_2``, … : the first not taken."""
    for n in range(1, MAX_FORM_STEPS + 2):
        if f"{stem}_{n}" not in taken:
            return f"{stem}_{n}"
    return f"{stem}_{len(taken) + 1}"


def step_views(model: list[dict], errors: dict[str, str], prefix: str = "", path: str = "steps") -> list[dict]:
    """What the template draws for each step: its form prefix, its path as the validator names it, its
    errors by form field (``step`` for those with no field of their own), and its branches."""
    views = []
    for i, step in enumerate(model):
        here, where = f"{prefix}.s{i}" if prefix else f"s{i}", f"{path}[{i}]"
        view = {"prefix": here, "path": where, "step": step, "first": i == 0, "last": i == len(model) - 1,
                "errors": errors_of_step(errors, where, step.get("type")), "branches": [],
                **shown_fields(step)}
        for j, branch in enumerate(step.get("branches", [])):
            case = branch["case"].strip()
            inner = f"{where}.default" if branch.get("beside") else f"{where}.cases.{case}"
            view["branches"].append({"prefix": f"{here}.b{j}", "branch": branch,
                                     "error": errors.get(f"{where}.branches[{j}].case") or errors.get(inner),
                                     "steps": step_views(branch["steps"], errors, f"{here}.b{j}", inner)})
        views.append(view)
    return views


def shown_fields(step: dict) -> dict:
    """A step's key/value rows (and a blank one to fill), and as ``extra`` (JSON, kept in a hidden
    input) what no form field shows, so that it survives the forms and the validator still names it."""
    kind = step.get("type")
    rows, extra = {}, {}
    for key, value in step.items():
        if key in ("name", "type", "branches"):
            continue
        if key in MAP_FIELDS.get(kind, ()) and isinstance(value, dict):
            continue
        if key not in TEXT_FIELDS.get(kind, ()) or isinstance(value, (dict, list)):
            extra[key] = value
    for key in MAP_FIELDS.get(kind, ()):
        value = step.get(key) if isinstance(step.get(key), dict) else {}
        rows[key] = [(k, v, "text") if isinstance(v, str) else (k, json.dumps(v), "json") for k, v in value.items()]
        rows[key].append(("", "", "text"))
    return {"rows": rows, "extra": json.dumps(extra) if extra else ""}


def names_in(model: list[dict]) -> list[str]:
    """Every step's name, branches included, in page order."""
    names = []
    for step in model:
        names.append(step.get("name"))
        for branch in step.get("branches", []):
            names.extend(names_in(branch["steps"]))
    return [n for n in names if isinstance(n, str) and n]


def errors_of_step(errors: dict[str, str], path: str, kind) -> dict[str, str]:
    """The errors of the step at ``path`` (not of the steps inside its branches), by the field they go beside."""
    shown = set(TEXT_FIELDS.get(kind, ())) | set(MAP_FIELDS.get(kind, ())) | {"name", "type"}
    out: dict[str, str] = {}
    for field, message in errors.items():
        if field != path and not field.startswith(path + "."):
            continue
        rest = field[len(path) + 1:]
        if "[" in rest and not rest.startswith(("headers.", "properties.")):
            continue  # a step inside a branch, or a branch's own value
        key = rest.split(".")[0]
        if key == "cases" or key == "default":
            key = "cases"
        elif key not in shown:
            key, message = "step", (f"{rest}: {message}" if rest else message)
        elif rest != key:
            message = f"{rest.split('.', 1)[1]}: {message}"
        out[key] = f"{out[key]} {message}" if key in out else message
    return out


def parsed_steps(text: str):
    try:
        return json.loads(text or "[]")
    except ValueError as exc:
        raise FieldError("steps", f"is not valid JSON: {exc}") from None


def step_names(values: dict) -> list[str]:
    """The flow's step names, for the field reference (none while the JSON does not parse)."""
    if values["view"] == "forms":
        return names_in(values["model"])
    try:
        return names_in(editable(parsed_steps(values["steps"])))
    except FieldError:
        return []
