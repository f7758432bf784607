"""Web and RQ workers keep what they loaded at start out of later garbage collections
(runtime/collector.py): a full pass then walks only what came after, instead of stalling every
thread of the process for 50-90 ms (bench ingest's half-rate tail)."""
import gc
import weakref

import pytest

from runtime import gunicorn_hooks, worker


@pytest.fixture
def unfrozen():
    yield
    gc.unfreeze()  # the test process's own objects go back to the collector


class Node:
    pass


def test_a_web_worker_freezes_what_it_loaded_and_still_collects_new_cycles(unfrozen):
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    gunicorn_hooks.post_worker_init(None)  # gunicorn calls it once the worker has built the app
    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # this process's modules, pytest's and the app's: far more than a few
    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle made after the freeze is garbage as before
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None
    # what a full pass walks (the tracked objects outside the permanent generation) is a small part
    # of what was frozen; the frozen count itself may shrink, as refcounting still frees them
    assert len(gc.get_objects()) < frozen / 10


def test_the_rq_worker_freezes_after_importing_its_jobs(app, monkeypatch, unfrozen):
    order = []
    monkeypatch.setattr(worker, "preload_jobs", lambda: order.append("preload"))
    monkeypatch.setattr(worker, "freeze_what_started", lambda: order.append("freeze"))

    class Stop(Exception):
        pass

    def stop_here(*args, **kwargs):
        order.append("app")
        raise Stop

    monkeypatch.setattr(worker, "redis_conn", stop_here)

    with pytest.raises(Stop):
        worker.run_worker(app)
    assert order == ["preload", "freeze", "app"]
