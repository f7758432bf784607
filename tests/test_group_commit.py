"""Group commit of the integration URL (issue 17; alerting/alerts/group_commit.py): many requests in
one transaction, each answered after its batch commits; a failure fails only its own requests."""
import collections
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.exc import OperationalError

from alerting.alerts import group_commit
from extensions import db
from models import Alert, TimelineEntry
from tests.support import wait_until
from tests.test_inbound import config, post  # noqa: F401  (config is a fixture)

THREADS = 32


def fire(app, config, bodies):  # noqa: F811
    """Post every body from its own thread, all released together; the responses in order."""
    db.session.rollback()  # the test's own session holds no transaction (on SQLite: no writer lock)
    barrier = threading.Barrier(len(bodies), timeout=30)

    def one(body):
        client = app.test_client()
        barrier.wait()
        return post(client, config, body)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(one, bodies))


@pytest.fixture
def one_writer_thread(monkeypatch):
    """The app's writer with one thread in either database (PostgreSQL's has WRITERS_PG), so what
    queues behind a held ticket goes in as one batch."""
    monkeypatch.setattr(group_commit, "WRITERS_PG", 1)
    group_commit._writers.clear()  # the next submit makes a writer with one batch at a time


def held_writer(app):
    """The app's writer, kept busy by a first ticket until the returned event is set, so the
    tickets submitted meanwhile wait and go in together as one batch."""
    db.session.rollback()  # the test's own session holds no transaction (on SQLite: no writer lock)
    writer = group_commit.writer(app)
    assert writer.slots == 1
    release, started = threading.Event(), threading.Event()

    def hold():
        started.set()
        release.wait(30)
        return None

    threading.Thread(target=writer.submit, args=(hold, 30), daemon=True).start()
    assert started.wait(10)
    return writer, release


def one_batch(writer, release, send, count=8):
    """``send(i)`` for i < count from threads of their own while ``held_writer``'s first ticket holds
    the writer, then ``release``: their tickets go in as one batch. The results, in any order."""
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(send(i))) for i in range(count)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(writer.tickets) >= count, 10, interval=0.01, message=f"{count} tickets queued")
    release.set()
    for thread in threads:
        thread.join(30)
    return results


def test_32_threads_posting_one_new_dedup_key_make_one_alert_and_no_5xx(app, config):  # noqa: F811
    answers = fire(app, config, [{"subject": "Disk full", "dedupKey": "db-1/disk"}] * THREADS)
    assert [a.status_code for a in answers] == [202] * THREADS, [a.get_json() for a in answers]
    bodies = [a.get_json() for a in answers]
    assert len({b["alertId"] for b in bodies}) == 1
    assert sum(not b.get("deduplicated") for b in bodies) == 1
    alerts = db.session.query(Alert).filter_by(dedup_key="db-1/disk").all()
    assert len(alerts) == 1 and alerts[0].duplicate_count == THREADS - 1


def test_requests_waiting_for_the_writer_commit_as_one_batch(app, config, one_writer_thread):  # noqa: F811
    writer, release = held_writer(app)
    before = writer.batches
    results = one_batch(writer, release, lambda i: post(app.test_client(), config, {"subject": f"batched {i}"}))
    assert sorted(r.status_code for r in results) == [202] * 8
    assert writer.batches - before == 2, "the held ticket's batch, then the 8 requests in one"

    assert db.session.query(Alert).filter(Alert.subject.like("batched %")).count() == 8


def test_a_failing_request_fails_alone_and_its_batch_mates_are_stored(app, config, one_writer_thread):  # noqa: F811
    writer, release = held_writer(app)
    outcomes = {}

    def bad():
        db.session.add(Alert(uuid="not-null-violations-follow"))  # flushes with NULL required columns
        db.session.flush()

    def submit(name, work):
        try:
            outcomes[name] = writer.submit(work, 10)
        except Exception as exc:  # the failing one
            outcomes[name] = exc

    good = [threading.Thread(target=submit, args=(f"good{i}", lambda i=i: post_within(config, i))) for i in range(3)]
    failing = threading.Thread(target=submit, args=("bad", bad))
    for thread in [*good[:2], failing, good[2]]:
        thread.start()
    wait_until(lambda: len(writer.tickets) >= 4, 10, interval=0.01, message="4 tickets queued")
    release.set()
    for thread in [*good, failing]:
        thread.join(30)
    assert isinstance(outcomes["bad"], Exception)
    ids = [outcomes[f"good{i}"] for i in range(3)]
    assert all(isinstance(i, int) for i in ids), outcomes
    stored = {a.id: a.subject for a in db.session.query(Alert)}
    assert {stored[i] for i in ids} == {"alone 0", "alone 1", "alone 2"}
    assert "not-null-violations-follow" not in {a.uuid for a in db.session.query(Alert)}
    # each good alert is whole: its creation is on the timeline
    assert {t.alert_id for t in db.session.query(TimelineEntry).filter_by(type="EVENT_CREATED")} >= set(ids)


def post_within(config, i):  # noqa: F811
    """In the writer: what the integration URL's work does, for a new alert named ``alone {i}``."""
    from alerting.alerts.create import apply_change
    from alerting.sources import parse
    from models import Configuration

    cfg = db.session.query(Configuration).filter_by(uuid=config["uuid"]).one()
    (change,) = parse(cfg.template, {"subject": f"alone {i}"}, cfg.custom_mapping)
    return apply_change(cfg, change).alert.id


def test_a_batch_whose_commit_fails_answers_503_with_retry_after_and_stores_nothing(app, config, monkeypatch):  # noqa: F811
    from sqlalchemy.orm import Session

    real_commit = Session.commit

    def failing_commit(self):
        if self.info.get(group_commit.BATCH_CACHE) is not None:  # a batch's commit
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        return real_commit(self)

    monkeypatch.setattr(Session, "commit", failing_commit)
    answer = post(app.test_client(), config, {"subject": "never stored"})
    monkeypatch.setattr(Session, "commit", real_commit)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
    assert set(answer.get_json()) == {"code", "reason", "message"}
    assert db.session.query(Alert).filter_by(subject="never stored").count() == 0


def test_a_ticket_the_writer_never_took_in_time_is_withdrawn_and_never_runs(app, one_writer_thread):
    writer, release = held_writer(app)
    ran = threading.Event()
    with pytest.raises(group_commit.WriterBusy):
        writer.submit(ran.set, 0.2)
    release.set()
    wait_until(lambda: not writer.tickets, 10, interval=0.01, message="the queue drained")
    writer.submit(lambda: None, 10)  # one more batch after the withdrawn ticket was skipped
    assert not ran.is_set()


def test_a_listener_failing_after_the_commit_answers_202_and_stores_the_batch_once(app, config, monkeypatch):  # noqa: F811
    from runtime import queue

    def failing_ring(*args):
        raise RuntimeError("after the commit")

    monkeypatch.setattr(queue, "ring", failing_ring)  # the dispatch bell, rung by an after_commit listener
    answers = fire(app, config, [{"subject": f"after commit {i}"} for i in range(6)])
    assert [a.status_code for a in answers] == [202] * 6
    db.session.rollback()
    assert db.session.query(Alert).filter(Alert.subject.like("after commit %")).count() == 6


def test_a_batch_queues_its_update_webhook_jobs_in_one_redis_round_trip(app, api, receiver, one_writer_thread,
                                                                        monkeypatch):
    """Eight alerts of a configuration with a status endpoint commit as one batch: eight messages,
    one job each, queued by one pipeline (not eight), and each job names its own message."""
    from redis.client import Pipeline

    from runtime.queue import get_queue
    from tests.support import send_alert, updates_config, webhook_messages

    cfg = updates_config(api, receiver)
    writer, release = held_writer(app)
    sent = []
    original = Pipeline.execute

    def counted(self, *args, **kwargs):
        commands = [" ".join(str(a) for a in args[:2]) for args, _options in self.command_stack]
        if any(c.endswith("rq:queue:webhooks") for c in commands):  # RQ pushes a job id onto its queue's list
            sent.append(commands)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "execute", counted)
    results = one_batch(writer, release, lambda i: send_alert(app.test_client(), cfg, {"subject": f"updated {i}"}))
    assert sorted(r.status_code for r in results) == [202] * 8
    messages = webhook_messages()
    assert len(messages) == 8 and all(m.status == "pending" and m.endpoint_id for m in messages)
    jobs = get_queue("webhooks").get_jobs()
    assert sorted(job.args[0] for job in jobs) == sorted(m.id for m in messages)
    assert len(sent) == 1, sent  # every job of the webhooks queue went in one pipeline


def test_jobs_queued_together_are_dropped_with_a_warning_when_redis_is_away(app, monkeypatch, caplog):
    """Redis unreachable at commit: no error for the committed requests, a warning, and the rows'
    sweeper queues them later (tests/test_webhooks_outbox.py covers the sweep)."""
    from redis import Redis
    from rq import Queue

    from runtime import queue

    away = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    monkeypatch.setattr(queue, "get_queue", lambda name: Queue(name, connection=away))
    jobs = [("workers.webhooks.deliver_message", (n,), {"job_id": None, "delay": None, "timeout": 120})
            for n in (1, 2, 3)]
    with caplog.at_level("WARNING", logger="klaxon.queue"):
        assert queue.enqueue_all("webhooks", jobs) is False
    assert "could not queue 3 jobs on webhooks" in caplog.text


def test_postgresql_gets_two_writer_threads_per_process_and_four_in_all_sqlite_one(app, monkeypatch):
    """KLAXON_WEB_WORKERS 1 and 2 give two batches at once each on PostgreSQL; from 3 on, one per
    process (more would split the same load into ever smaller batches); SQLite always one."""
    import dataclasses

    settings = app.config["KLAXON"]
    threads = {}
    for web_workers in (1, 2, 3, 4, 8):
        monkeypatch.setitem(app.config, "KLAXON", dataclasses.replace(settings, web_workers=web_workers))
        threads[web_workers] = group_commit.threads_for(app)
    with app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
    assert threads == (dict.fromkeys(threads, 1) if sqlite else {1: 2, 2: 2, 3: 1, 4: 1, 8: 1})


def test_a_request_that_finds_no_batch_running_commits_in_its_own_thread(app, one_writer_thread):
    db.session.rollback()
    writer = group_commit.writer(app)
    before = writer.batches
    ran_in = writer.submit(threading.get_ident, 10)
    assert ran_in == threading.get_ident(), "no hand-over to another thread"
    assert writer.batches == before + 1 and writer.leading == 0 and not writer.tickets


def test_the_first_request_queued_behind_a_batch_leads_the_next_with_all_the_others(app, one_writer_thread):
    writer, release = held_writer(app)
    before = writer.batches
    callers, ran_in = {}, {}

    def send(i):
        def work():
            ran_in[i] = threading.get_ident()
        callers[i] = threading.get_ident()
        if i:  # the first is queued before the others
            wait_until(lambda: len(writer.tickets) >= 1, 10, interval=0.005, message="the first ticket queued")
        return writer.submit(work, 10)

    one_batch(writer, release, send)
    assert writer.batches - before == 2, "the held batch, then the eight together"
    assert set(ran_in.values()) == {callers[0]}, "the first queued ran the eight, in its own thread"
    assert writer.leading == 0 and not writer.tickets


def test_postgresql_slots_let_two_batches_run_at_once_and_a_third_waits(app):
    """With two slots (PostgreSQL's), two leaders hold batches at once; a third request queues and
    is led when one of them commits."""
    db.session.rollback()
    writer = group_commit.Writer(app, threads=2)
    release, running = threading.Event(), threading.Semaphore(0)

    def hold():
        running.release()
        release.wait(30)

    holders = [threading.Thread(target=writer.submit, args=(hold, 30), daemon=True) for _ in range(2)]
    for thread in holders:
        thread.start()
    assert running.acquire(timeout=10) and running.acquire(timeout=10), "two batches at once"
    assert writer.leading == 2
    third = {}
    waiting = threading.Thread(target=lambda: third.update(thread=writer.submit(threading.get_ident, 30)))
    waiting.start()
    wait_until(lambda: len(writer.tickets) == 1, 10, interval=0.005, message="the third queued")
    assert "thread" not in third
    release.set()
    waiting.join(30)
    for thread in holders:
        thread.join(30)
    assert third["thread"] == waiting.ident, "it led its own batch once a slot was free"
    assert writer.batches == 3 and writer.leading == 0


def test_a_leader_made_while_another_slot_ran_its_ticket_returns_the_slot(app, monkeypatch):
    """PostgreSQL's two slots: a request made the next leader may find its ticket already run by the
    other slot's new leader before it wakes. It answers with that batch's result and gives its slot
    back (with the slot kept, the process would be left with one, then none: every request a 503)."""
    db.session.rollback()
    gate = threading.Event()

    class GatedEvent(threading.Event):
        def wait(self, timeout=None):
            gate.wait(30)  # the ticket's request is slow to wake: the hand-over happens first
            return super().wait(timeout)

    def late():
        return "late's own result"

    class Ticket(group_commit.Ticket):
        def __init__(self, work):
            super().__init__(work)
            if work is late:
                self.wake = GatedEvent()

    monkeypatch.setattr(group_commit, "Ticket", Ticket)
    writer = group_commit.Writer(app, threads=2)
    releases = [threading.Event(), threading.Event()]
    running = threading.Semaphore(0)

    def holder(release):
        def hold():
            running.release()
            release.wait(30)
        return threading.Thread(target=writer.submit, args=(hold, 30), daemon=True)

    holders = [holder(r) for r in releases]
    for thread in holders:
        thread.start()
    assert running.acquire(timeout=10) and running.acquire(timeout=10)
    result = {}
    waiting = threading.Thread(target=lambda: result.update(late=writer.submit(late, 30)))
    waiting.start()
    wait_until(lambda: len(writer.tickets) == 1, 10, interval=0.005, message="late queued")
    releases[0].set()  # slot 1's leader commits and makes late the next leader; late does not wake yet
    holders[0].join(30)
    releases[1].set()  # slot 2's leader commits; late is already a leader, so slot 2 is free
    holders[1].join(30)
    assert writer.leading == 1
    assert writer.submit(lambda: "new", 10) == "new"  # a new leader in slot 2 runs late's ticket with its own
    assert writer.tickets == collections.deque()
    gate.set()
    waiting.join(30)
    assert result == {"late": "late's own result"}
    assert writer.leading == 0, "the slot handed to late came back"
    assert writer.batches == 3
