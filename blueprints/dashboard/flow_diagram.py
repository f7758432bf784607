"""The diagram of a flow on its page: boxes and elbow arrows laid out here, drawn as inline SVG by
templates/dashboard/flows/flow.html, coloured by how each step did in the latest run."""
from __future__ import annotations

from models import Flow, FlowRun

# The diagram: boxes and elbow arrows laid out here, drawn as inline SVG by the template.
BOX_W, BOX_H, GAP_Y, GAP_X, LABEL_H, MARGIN = 210, 46, 30, 24, 16, 16


def summary(step: dict) -> str:
    kind = step.get("type")
    if kind == "http_request":
        return f"{step.get('method', 'POST')} {step.get('url', '').split('://')[-1]}"
    if kind == "create_alert":
        return "create alert"
    if kind == "update_alert":
        return f"{step.get('action', '')} the alert"
    return f"switch on {step.get('value', '').strip('{} ')}"


def branches(step: dict) -> list[tuple[str, list]]:
    cases = step.get("cases") or {}
    out = [(k, v) for k, v in cases.items() if k != "default"]
    default = cases.get("default", step.get("default"))
    return out + ([("default", default)] if default is not None else [])


def width_of(steps: list) -> int:
    widest = BOX_W
    for step in steps:
        if step.get("type") == "switch":
            parts = [width_of(b) for _, b in branches(step)]
            widest = max(widest, sum(parts) + GAP_X * (len(parts) - 1))
    return widest


def place(steps: list, cx: float, y: float, out: dict, statuses: dict) -> float:
    """Draw ``steps`` down from ``y`` centred on ``cx``; return the y where the last one ends."""
    for step in steps:
        out["paths"].append({"d": f"M{cx},{y} V{y + GAP_Y - 2}", "arrow": True})
        y += GAP_Y
        out["boxes"].append({"x": cx - BOX_W / 2, "y": y, "title": step.get("name", "?")[:26],
                             "sub": summary(step)[:30], "kind": step.get("type"),
                             "status": statuses.get(step.get("name"))})
        y += BOX_H
        if step.get("type") != "switch":
            continue
        parts = branches(step)
        widths = [width_of(b) for _, b in parts]
        left, ends = cx - (sum(widths) + GAP_X * (len(parts) - 1)) / 2, []
        for (label, branch), w in zip(parts, widths, strict=True):
            bx = left + w / 2
            out["paths"].append({"d": f"M{cx},{y} V{y + GAP_Y / 2} H{bx} V{y + GAP_Y / 2 + LABEL_H}", "arrow": False})
            out["labels"].append({"x": bx + 6, "y": y + GAP_Y / 2 + LABEL_H - 2, "text": label[:20]})
            ends.append((bx, place(branch, bx, y + GAP_Y / 2 + LABEL_H, out, statuses)))
            left += w + GAP_X
        join = max(end for _, end in ends) + GAP_Y / 2
        for bx, end in ends:
            out["paths"].append({"d": f"M{bx},{end} V{join} H{cx}", "arrow": False})
        y = join
    return y


def diagram(flow: Flow, last_run: FlowRun | None, labels: dict) -> dict:
    """Boxes, paths and labels of the flow, coloured by how its steps did in the latest run."""
    statuses = {s.get("name"): s.get("status") for s in (last_run.steps if last_run else [])}
    width = width_of(flow.steps or []) + 2 * MARGIN
    out = {"boxes": [{"x": width / 2 - BOX_W / 2, "y": MARGIN, "title": "When",
                      "sub": labels.get(flow.trigger.get("type"), "?")[:30], "kind": "trigger",
                      "status": None}], "paths": [], "labels": []}
    end = place(flow.steps or [], width / 2, MARGIN + BOX_H, out, statuses)
    out.update(width=width, height=end + MARGIN, box_w=BOX_W, box_h=BOX_H)
    return out
