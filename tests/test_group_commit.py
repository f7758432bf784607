"""Group commit of the integration URL (issue 17; alerting/alerts/group_commit.py): many requests in
one transaction, each answered after its batch commits; a failure fails only its own requests."""
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
    for old in list(group_commit._writers.values()):
        with old.gate:
            old.closed = True  # the next submit starts a writer with one thread


def held_writer(app):
    """The app's writer, kept busy by a first ticket until the returned event is set, so the
    tickets submitted meanwhile wait and go in together as one batch."""
    db.session.rollback()  # the test's own session holds no transaction (on SQLite: no writer lock)
    writer = group_commit.writer(app)
    assert len(writer.threads) == 1
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
    wait_until(lambda: writer.tickets.qsize() >= count, 10, interval=0.01, message=f"{count} tickets queued")
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
    wait_until(lambda: writer.tickets.qsize() >= 4, 10, interval=0.01, message="4 tickets queued")
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
        if threading.current_thread().name == "klaxon-group-commit":
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
    wait_until(lambda: writer.tickets.empty(), 10, interval=0.01, message="the queue drained")
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
    """KLAXON_WEB_WORKERS 1 and 2 give two writer threads each on PostgreSQL; from 3 on, one per
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
