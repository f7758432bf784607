"""Big waves in batch jobs (issue 17): a wave bigger than one batch is sent by several jobs, each
notification exactly once; a lost batch job's rows are sent by the sweep; two workers share a wave."""
from collections import Counter
from datetime import timedelta

import pytest
from rq import Queue, Worker

from alerting import jobs
from alerting.notifications import batches
from alerting.notifications import dispatch as notify
from extensions import db
from models import Notification, utcnow
from runtime.queue import redis_conn
from runtime.sweeper import sweep_once
from tests.support import (
    Receiver,
    add_user,
    hook,
    notify_config,
    person,
    start_worker,
    stop_worker,
    trigger,
    wait_until,
)

DEVICES = 10


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(batches, "SIZE", 4)  # 10 devices: 4 sent by the dispatcher, batch jobs of 4 and 2


def big_wave(api, client, receiver, devices=DEVICES):
    """One alert to a person with ``devices`` webhook devices: one wave of that many notifications."""
    add_user(api, "bsmith", [hook(receiver, f"Hook {i}", f"d{i}") for i in range(devices)])
    return trigger(client, notify_config(api, [person("bsmith")]))


def batch_jobs():
    return [job for job in Queue("notify", connection=redis_conn()).jobs if job.func_name == jobs.SEND_BATCH.function]


def statuses():
    try:
        return Counter((n.status, n.attempts) for n in db.session.query(Notification))
    finally:
        db.session.remove()


def assert_each_device_posted_once(receiver, devices=DEVICES):
    """Every device got exactly one POST (the receiver logs a request as it arrives, so a second send
    of one notification would show here) and every notification says Delivered. Its attempt count
    may be 2: a send whose connection failed before any request arrived is retried, as it should be."""
    paths = Counter(r["path"] for r in receiver.requests)
    assert paths == Counter(f"/d{i}" for i in range(devices))
    settled = statuses()
    assert {status for status, _ in settled} == {"Delivered"} and sum(settled.values()) == devices, settled


def test_a_big_wave_becomes_batch_jobs_and_each_device_gets_one_post(api, client, run_jobs, receiver, small_batches):
    created = big_wave(api, client, receiver)
    assert notify.dispatch_pending() == 1
    assert len(receiver.requests) == 4  # the dispatcher sent its own batch, no more
    handed = batch_jobs()
    assert [job.args[0] for job in handed] == [created["eventIdentifier"]] * 2
    assert [len(job.args[1]) for job in handed] == [4, 2]
    rest = sorted(i for job in handed for i in job.args[1])
    queued = db.session.query(Notification).filter(Notification.id.in_(rest)).all()
    assert {(n.status, n.locked_until) for n in queued} == {("Queued", None)}  # released for the batch jobs
    db.session.remove()
    run_jobs()
    assert_each_device_posted_once(receiver)


def test_a_batch_job_queued_twice_sends_once(api, client, run_jobs, receiver, small_batches):
    big_wave(api, client, receiver)
    notify.dispatch_pending()
    for job in batch_jobs():
        assert jobs.SEND_BATCH.now(*job.args)
    assert len(batch_jobs()) == 4
    run_jobs()
    assert_each_device_posted_once(receiver)


def test_a_lost_batch_job_is_sent_by_the_sweep(api, client, run_jobs, receiver, small_batches):
    big_wave(api, client, receiver)
    notify.dispatch_pending()
    Queue("notify", connection=redis_conn()).empty()  # Redis lost the batch jobs (and the bell's job)
    sweep_once(utcnow())
    assert len(receiver.requests) == 4, "the sweep left the rows to their batch jobs during the grace"
    sweep_once(utcnow() + timedelta(seconds=30))  # 6 rows: it sends 4 and hands 2 to a new batch job
    run_jobs()
    assert_each_device_posted_once(receiver)


def test_a_batch_whose_worker_died_after_its_claim_is_sent_again_by_the_sweep(api, client, run_jobs, receiver,
                                                                               small_batches, settings):
    big_wave(api, client, receiver)
    notify.dispatch_pending()
    first, second = batch_jobs()
    Queue("notify", connection=redis_conn()).empty()
    now = utcnow()
    assert notify.claim_all(first.args[1], now, now) == sorted(first.args[1])  # claimed, then the worker died
    db.session.commit()
    assert notify.send_batch(*first.args) == 0  # a second copy of the job finds the rows held
    assert notify.send_batch(*second.args) == 2
    assert len(receiver.requests) == 6
    sweep_once(utcnow() + timedelta(seconds=10))
    assert len(receiver.requests) == 6, "the dead worker's lease still holds its rows"
    sweep_once(utcnow() + timedelta(seconds=settings.notify_lease_seconds + 10))
    run_jobs()
    assert_each_device_posted_once(receiver)


@pytest.mark.slow
def test_two_workers_share_one_wave(api, client, settings):
    devices = 2 * batches.SIZE + 2  # the dispatcher's batch, then batch jobs of SIZE and 2
    with Receiver(delay=0.05) as receiver:  # each batch takes a while, so the idle worker takes the next
        procs = [start_worker(settings, "--no-sweeper", env={"KLAXON_NOTIFY_RETRY_SCHEDULE": "0,0,0"})
                 for _ in range(2)]
        try:
            wait_until(lambda: len(Worker.all(connection=redis_conn())) == 2, 60, message="two workers up")
            big_wave(api, client, receiver, devices)
            db.session.remove()  # hold no transaction: on SQLite it would keep the workers out
            receiver.wait_for(devices, timeout=60)
            wait_until(lambda: not any(status == "Queued" for status, _ in statuses()), 60,
                       message="every outcome written")
            done = wait_until(lambda: sorted(w.successful_job_count for w in Worker.all(connection=redis_conn()))
                              if sum(w.successful_job_count for w in Worker.all(connection=redis_conn())) >= 3
                              else None, 30, message="three jobs counted")
        finally:
            for proc in procs:
                stop_worker(proc)
    assert_each_device_posted_once(receiver, devices)
    assert done[0] >= 1, f"one worker sent the whole wave (jobs per worker: {done})"
    assert sum(done) == 3  # one dispatch job and two batch jobs
