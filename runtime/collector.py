"""Short garbage-collector pauses in the long-running processes (web and RQ workers).

CPython's full (generation 2) collection walks every object it tracks, and in a worker most of
them are what it loaded at start (modules, the Flask app, SQLAlchemy's mappers, apprise), which
live as long as the process. Under `python -m bench ingest` such passes took 31-77 ms in the
serve's worker processes, and a pass stops every thread of its process at once: bursts of
requests waiting 50-90 ms made the tail at half load (BENCHMARKS.md, 3 Dec 2026 midday).
``gc.freeze()`` moves what exists at start into a permanent generation that collections no
longer walk, so a full pass looks only at what came after. Reference cycles made later are
collected as before; what was frozen is never freed by the collector, which is what a
process-lifetime object needs anyway.
"""
from __future__ import annotations

import gc


def freeze_what_started() -> int:
    """Collect once, then leave everything alive now out of later collections; how many objects."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
