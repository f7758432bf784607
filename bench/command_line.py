"""The one command line of a bench script: ``--name value`` options, then one JSON line of figures.

    def main(argv=None):
        command_line(run, __doc__, argv, duration=8.0, workers=2)

Each option's default gives its type (``--workers 4`` is an int, ``--duration 2.5`` a float) and
its name the keyword of ``run`` it is passed as; ``fixed`` keywords are passed as they are.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable


def command_line(run: Callable[..., dict], doc: str | None, argv: list[str] | None = None,
                 fixed: dict | None = None, **options: float) -> None:
    """Parse ``argv`` into ``options``, call ``run(**options, **fixed)`` and print its result as one JSON line."""
    parser = argparse.ArgumentParser(description=doc)
    for name, default in options.items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    args = parser.parse_args(argv)
    print(json.dumps(run(**vars(args), **(fixed or {}))))
    sys.stdout.flush()
