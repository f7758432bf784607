"""python -m bench all | ingest | notify | fanout | dashboard | scale | oncall

Each part starts its own `klaxon serve` on a free 127.0.0.1 port with a temp data dir and prints
one JSON line on stdout; progress goes to stderr. `all` runs every part in turn (under 10 minutes
on 2 cores) and ends with a line giving the total time.
"""
from __future__ import annotations

import json
import sys
import time

from bench.harness import progress

PARTS = ("ingest", "notify", "fanout", "dashboard", "scale", "oncall")


def run_part(name: str) -> dict:
    import importlib

    started = time.perf_counter()
    try:
        result = importlib.import_module(f"bench.{name}").run()
    except Exception as exc:  # one broken part must not hide the others' figures
        result = {"bench": name, "error": f"{type(exc).__name__}: {exc}"[:2000]}
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    return result


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in PARTS + ("all",):
        print(__doc__, file=sys.stderr)
        return 2
    parts = PARTS if argv[0] == "all" else (argv[0],)
    started, failed = time.perf_counter(), 0
    for name in parts:
        progress(f"{name}: starting")
        result = run_part(name)
        failed += "error" in result
        print(json.dumps(result), flush=True)
    if argv[0] == "all":
        total = round(time.perf_counter() - started, 1)
        progress(f"all parts done in {total} s")
        print(json.dumps({"bench": "all", "elapsed_s": total, "parts": list(parts), "failed": failed}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
