"""The worker claims new alerts in batches (issue 17; alerting/notifications/dispatch.py): one
UPDATE ... RETURNING per batch of CLAIM_BATCH, oldest first, never the same alert twice under
concurrent claims, no write at all when nothing is new, and the users who asked to stop read for
a whole batch at once."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event

from alerting import jobs
from alerting.notifications import dispatch
from extensions import db
from models import Alert, Notification, Response, User, utcnow
from runtime import queue
from tests.support import add_user, hook, notify_config, person, trigger


@pytest.fixture
def config(api, receiver):
    for name in ("alice", "bob"):
        add_user(api, name, [hook(receiver, "Hook", name)])
    return notify_config(api, [person("alice"), person("bob")])


def new_alerts(client, config, count):
    for n in range(count):
        trigger(client, config, {"properties": {"Summary": f"Disk full on db-{n}"}})
    ids = [a for (a,) in db.session.query(Alert.id).filter(Alert.dispatched_at.is_(None)).order_by(Alert.id)]
    db.session.rollback()  # the test's session holds no transaction (on SQLite: no writer turn)
    return ids


class Statements:
    """The SQL this process sends while it is in the with block."""

    def __init__(self):
        self.seen: list[str] = []

    def _record(self, conn, cursor, statement, *args):
        self.seen.append(" ".join(statement.split()))

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._record)

    def claims(self):
        return [s for s in self.seen if "UPDATE alerts SET dispatched_at" in s]

    def writes(self):
        return [s for s in self.seen if s.split(" ", 1)[0] in ("UPDATE", "INSERT", "DELETE")
                or s.startswith("BEGIN IMMEDIATE")]


def test_claims_take_the_oldest_active_alerts_a_batch_at_a_time(app, client, config):
    ids = new_alerts(client, config, 5)
    suspended = db.session.get(Alert, ids[1])
    suspended.status = "SUSPENDED"
    db.session.commit()
    now = utcnow()
    assert dispatch.claim_pending(now, 2) == [ids[0], ids[2]]
    db.session.commit()
    assert dispatch.claim_pending(now, 2) == [ids[3], ids[4]]
    db.session.commit()
    assert dispatch.claim_pending(now, 2) == []
    db.session.rollback()
    assert db.session.get(Alert, ids[1]).dispatched_at is None  # a suspended alert waits for its resume


def test_dispatch_pending_claims_with_one_statement_per_batch_and_writes_nothing_when_idle(app, client, config,
                                                                                          monkeypatch):
    monkeypatch.setattr(dispatch, "CLAIM_BATCH", 4)
    ids = new_alerts(client, config, 10)
    with Statements() as sql:
        assert dispatch.dispatch_pending() == 10
    assert len(sql.claims()) == 3  # 4 + 4 + 2, then an empty look that claims nothing
    db.session.rollback()
    assert db.session.query(Alert).filter(Alert.id.in_(ids), Alert.dispatched_at.is_(None)).count() == 0
    with Statements() as idle:
        assert dispatch.dispatch_pending() == 0
    looks = [s for s in idle.seen if s != "BEGIN"]  # SQLite's deferred BEGIN of the read-only connection
    # one look, then the one after the bell's answer (dispatch_pending's docstring)
    assert idle.writes() == [] and len(looks) == 2 and all(s.startswith("SELECT") for s in looks), idle.seen


def test_concurrent_claims_never_take_one_alert_twice(app, client, config):
    ids = new_alerts(client, config, 40)
    barrier = threading.Barrier(4, timeout=30)

    def claimer():
        with app.app_context():
            barrier.wait()
            mine = []
            for _ in range(40):  # bounded: 40 alerts, at least one each round until none is left
                got = dispatch.claim_pending(utcnow(), 3)
                db.session.commit()
                if not got and not dispatch._any_pending():
                    break
                mine += got
            db.session.remove()
            return mine

    with ThreadPoolExecutor(max_workers=4) as pool:
        taken = [i for mine in pool.map(lambda _: claimer(), range(4)) for i in mine]
    assert sorted(taken) == ids  # each alert exactly once


def test_the_users_who_stopped_are_read_for_the_batch_and_kept_per_alert(app, client, config, receiver):
    first, second = new_alerts(client, config, 2)
    alice = db.session.query(User).filter_by(username="alice").one()
    db.session.add(Response(alert_id=first, user_id=alice.id, recipient="alice", response="Acknowledge",
                            action="STOP_NOTIFYING_USER"))
    db.session.commit()
    with Statements() as sql:
        assert dispatch.dispatch_pending() == 2  # alerts: bob is notified twice, alice only of the second
    assert len([s for s in sql.seen if s.startswith("SELECT responses.alert_id")]) == 1
    receiver.wait_for(3)
    db.session.rollback()
    sent = sorted(db.session.query(Notification.alert_id, Notification.recipient))
    assert sent == [(first, "bob"), (second, "alice"), (second, "bob")]


def test_the_look_and_the_claim_read_the_undispatched_index_not_every_active_alert(app):
    """ix_alerts_undispatched holds only the new alerts; through ix_alerts_status_id every round walked
    all the ACTIVE ones (SQLite's plan is fixed without statistics; PostgreSQL's depends on them)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL chooses its plan from table statistics; the SQLite pass checks the statements")
    from sqlalchemy import select

    look = select(Alert.id).where(Alert.dispatched_at.is_(None), Alert.status == "ACTIVE").limit(1)
    pending = look.order_by(Alert.id).limit(32)
    for statement in (look, pending):
        compiled = statement.compile(db.engine)
        values = tuple(compiled.params[name] for name in compiled.positiontup or ())
        plan = db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values).all()
        assert any("ix_alerts_undispatched" in row[-1] for row in plan), plan
    db.session.rollback()


BELL = "klaxon:bell:dispatch"


@pytest.fixture
def quiet(api):
    """A configuration whose alerts notify no one (its one recipient has no device): nothing to send."""
    add_user(api, "carol", [])
    return notify_config(api, [person("carol")])


def dispatch_jobs() -> int:
    return sum(job.func_name == jobs.DISPATCH_PENDING.function for job in queue.get_queue("notify").get_jobs())


def as_if_a_worker_took_the_job():
    """The bell rung by the triggers stays set; its job is gone from the queue (a worker has it)."""
    assert queue.redis_conn().exists(BELL)
    queue.get_queue("notify").empty()


def test_alerts_committed_while_the_job_drains_are_taken_by_it_without_a_job_of_their_own(app, client, quiet,
                                                                                          monkeypatch):
    monkeypatch.setattr(dispatch, "CLAIM_BATCH", 1)
    new_alerts(client, quiet, 3)
    as_if_a_worker_took_the_job()
    claimed_by_round = []
    real = dispatch.dispatch_claimed

    def and_one_more_arrives(claimed, now, **kw):
        result = real(claimed, now, **kw)  # committed: no transaction is open
        claimed_by_round.append(claimed)
        if len(claimed_by_round) == 1:
            trigger(client, quiet, {"properties": {"Summary": "arrived while the job drained"}})
            assert dispatch_jobs() == 0  # the bell was still rung: no job for it
        return result

    monkeypatch.setattr(dispatch, "dispatch_claimed", and_one_more_arrives)
    assert dispatch.dispatch_pending() == 4
    assert len(claimed_by_round) == 4 and dispatch_jobs() == 0
    assert not queue.redis_conn().exists(BELL)  # answered: the next commit rings a new job
    db.session.rollback()
    assert db.session.query(Alert).filter(Alert.dispatched_at.is_(None)).count() == 0


def test_an_alert_committed_just_before_the_answer_gets_a_successor_job(app, client, quiet, monkeypatch):
    new_alerts(client, quiet, 1)
    as_if_a_worker_took_the_job()
    real = queue.answer

    def late_commit_then_answer(bell):
        if bell == "dispatch":  # after the job's last empty look, before its answer: the ring finds the bell set
            trigger(client, quiet, {"properties": {"Summary": "just before the answer"}})
            assert dispatch_jobs() == 0
        real(bell)

    monkeypatch.setattr(queue, "answer", late_commit_then_answer)
    assert dispatch.dispatch_pending() == 1
    monkeypatch.setattr(queue, "answer", real)
    assert dispatch_jobs() == 1  # rung by the look after the answer
    db.session.rollback()
    assert db.session.query(Alert).filter(Alert.dispatched_at.is_(None)).count() == 1
    assert dispatch.dispatch_pending() == 1  # the successor takes it


def test_a_job_that_stops_at_its_round_limit_rings_a_successor(app, client, quiet, monkeypatch):
    monkeypatch.setattr(dispatch, "CLAIM_BATCH", 1)
    new_alerts(client, quiet, 3)
    as_if_a_worker_took_the_job()
    assert dispatch.dispatch_pending(max_rounds=2) == 2
    assert dispatch_jobs() == 1 and queue.redis_conn().exists(BELL)
    queue.get_queue("notify").empty()
    assert dispatch.dispatch_pending() == 1
    assert dispatch_jobs() == 0 and not queue.redis_conn().exists(BELL)


def test_a_job_answers_the_bell_before_it_sends_so_another_worker_can_take_new_alerts(app, client, config,
                                                                                       receiver, monkeypatch):
    new_alerts(client, config, 1)
    as_if_a_worker_took_the_job()
    rung_while_sending = []
    real = dispatch.deliver

    def deliver(alert_id, ids):
        rung_while_sending.append(bool(queue.redis_conn().exists(BELL)))
        return real(alert_id, ids)

    monkeypatch.setattr(dispatch, "deliver", deliver)
    assert dispatch.dispatch_pending() == 1
    assert rung_while_sending == [False]
    receiver.wait_for(2)


def test_a_job_that_fails_answers_the_bell_so_later_alerts_still_ring(app, client, quiet, monkeypatch):
    new_alerts(client, quiet, 1)
    as_if_a_worker_took_the_job()

    def broken(claimed, now, **kw):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(dispatch, "dispatch_claimed", broken)
    with pytest.raises(RuntimeError):
        dispatch.dispatch_pending()
    db.session.rollback()
    assert not queue.redis_conn().exists(BELL)
    trigger(client, quiet, {"properties": {"Summary": "after the failure"}})
    assert dispatch_jobs() == 1  # rang at once, not after the bell's 30 s expiry or the sweeper


def test_a_draining_jobs_bell_lapses_within_seconds_if_the_job_dies(app, client, quiet, monkeypatch):
    monkeypatch.setattr(dispatch, "CLAIM_BATCH", 1)
    new_alerts(client, quiet, 2)
    as_if_a_worker_took_the_job()
    assert queue.redis_conn().ttl(BELL) > queue.HELD_SECONDS  # as rung: long enough for a queued job to start
    ttls = []
    real = dispatch.dispatch_claimed

    def watch(claimed, now, **kw):
        ttls.append(queue.redis_conn().ttl(BELL))  # what is left if the job were killed here
        return real(claimed, now, **kw)

    monkeypatch.setattr(dispatch, "dispatch_claimed", watch)
    assert dispatch.dispatch_pending() == 2
    assert len(ttls) == 2 and all(0 < ttl <= queue.HELD_SECONDS for ttl in ttls), ttls


@pytest.mark.parametrize("every, pushes", [(3600.0, 1), (0.0, 6)])  # 6: every round (3 claims, 2 lingers, the last look)
def test_a_draining_job_pushes_its_bells_expiry_back_once_a_second_not_every_round(
        app, client, quiet, monkeypatch, every, pushes):
    monkeypatch.setattr(dispatch, "CLAIM_BATCH", 1)
    monkeypatch.setattr(dispatch, "KEEP_RUNG_EVERY", every)
    new_alerts(client, quiet, 3)
    as_if_a_worker_took_the_job()
    pushed = []
    real = queue.keep_rung
    monkeypatch.setattr(queue, "keep_rung", lambda bell: (pushed.append(bell), real(bell)))
    assert dispatch.dispatch_pending() == 3  # three rounds
    assert len(pushed) == pushes, pushed  # the first round always: a killed job's bell lapses in seconds
    assert 0 < queue.redis_conn().ttl(BELL) <= queue.HELD_SECONDS or not queue.redis_conn().exists(BELL)


def test_a_job_that_dispatched_lingers_and_takes_an_alert_committed_meanwhile(app, client, quiet, monkeypatch):
    new_alerts(client, quiet, 1)
    as_if_a_worker_took_the_job()
    lingered = []

    def linger():  # in place of the short sleep: a commit arrives while the job waits
        lingered.append(bool(queue.redis_conn().exists(BELL)))
        if len(lingered) == 1:
            trigger(client, quiet, {"properties": {"Summary": "arrived while the job lingered"}})
            assert dispatch_jobs() == 0  # the bell was still rung: no job for it

    monkeypatch.setattr(dispatch, "_linger", linger)
    assert dispatch.dispatch_pending() == 2
    # one linger before the second alert was found, then LINGER_LOOKS more before the job stopped
    assert lingered == [True] * (1 + dispatch.LINGER_LOOKS)
    assert dispatch_jobs() == 0 and not queue.redis_conn().exists(BELL)
    db.session.rollback()
    assert db.session.query(Alert).filter(Alert.dispatched_at.is_(None)).count() == 0


def test_a_job_that_found_nothing_or_answered_before_sending_does_not_linger(app, client, config, receiver,
                                                                              monkeypatch):
    lingered = []
    monkeypatch.setattr(dispatch, "_linger", lambda: lingered.append(True))
    assert dispatch.dispatch_pending() == 0  # nothing new: a stray job stops at its first look
    new_alerts(client, config, 1)
    as_if_a_worker_took_the_job()
    assert dispatch.dispatch_pending() == 1  # answered before it sent: later commits ring a job of their own
    assert lingered == []
    receiver.wait_for(2)
