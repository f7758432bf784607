"""The job table: every RQ job names a real entry point in workers/, and no other module names one."""
import ast
import importlib
import re
from pathlib import Path

import pytest

from alerting import jobs
from runtime.queue import QUEUES

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("alerting", "runtime", "blueprints", "workers")
DOTTED_WORKER = re.compile(r"\bworkers\.[A-Za-z_]")


@pytest.mark.parametrize("job", jobs.JOBS, ids=lambda job: job.function)
def test_every_job_resolves_to_a_function_in_workers(job):
    module_name, _, name = job.function.rpartition(".")
    assert module_name.startswith("workers.")
    func = getattr(importlib.import_module(module_name), name)
    assert callable(func)
    assert job.queue in QUEUES  # a worker listens on it
    assert job.timeout > 0


def test_the_table_lists_every_job_once():
    declared = [value for value in vars(jobs).values() if isinstance(value, jobs.Job)]
    assert sorted(j.function for j in declared) == sorted(j.function for j in jobs.JOBS)
    assert len({j.function for j in jobs.JOBS}) == len(jobs.JOBS)


def test_only_a_bell_is_rung():
    with pytest.raises(TypeError):
        jobs.RUN_FLOW.ring_after_commit()


def strings_naming_workers(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and DOTTED_WORKER.search(node.value)]


def test_no_module_but_the_job_table_names_a_worker_function_by_string():
    table = ROOT / "alerting" / "jobs.py"
    found = [hit for folder in SCANNED for path in sorted((ROOT / folder).rglob("*.py")) if path != table
             for hit in strings_naming_workers(path)]
    assert found == []
    assert strings_naming_workers(table)  # the scan does see the table's strings
