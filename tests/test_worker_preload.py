"""Cold start (issue 17): a worker imports every job's module before its first job."""
import subprocess
import sys

from bench.harness import ROOT


def test_preload_imports_every_job_module_that_a_fresh_process_lacks():
    code = ("import sys; from runtime.worker import preload_jobs; from alerting.jobs import JOBS; "
            "before = 'workers.notify' in sys.modules; names = preload_jobs(); "
            "wanted = {j.function.rpartition('.')[0] for j in JOBS}; "
            "print(before, set(names) == wanted, all(n in sys.modules for n in wanted), 'apprise' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "True", "True"]
