"""Running a flow (SPEC §5): claim the run, take its steps in order, keep each step's record.

A run stops at its first failing step, after 50 steps, or once its 60 s are spent. Each step
commits with its record, so what a step did (an alert created, a comment) and the record of it
land together; a failing step's partial changes are rolled back, and the alert that started the
run is never changed by a failure. The run ends with a ``FLOW_RUN`` entry on that alert's timeline.
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import or_, update

from alerting import jobs
from alerting.alerts.lifecycle import add_timeline
from alerting.flows.steps import RunState, alert_json, run_step
from extensions import db
from models import Alert, FlowRun, utcnow
from runtime.metrics import FLOW_RUNS

log = logging.getLogger("klaxon.flows")

STEP_BUDGET = 50
TIME_BUDGET = 60.0  # seconds; a step already started may add one HTTP timeout (10 s)
LEASE = timedelta(seconds=120)  # a running run not finished by then is given up as failed
PENDING_GRACE = timedelta(seconds=30)  # a queued run not claimed by then is queued again
DEPTH_KEY = "klaxon_flow_depth"  # session.info: the depth of events the running step causes
SWEEP_BATCH = 500


def queue_run(run: FlowRun) -> None:
    """Queue the run's job once the transaction that wrote it commits."""
    run.locked_until = utcnow() + PENDING_GRACE
    jobs.RUN_FLOW.after_commit(run.id)


def claim(run_id: int) -> bool:
    """pending -> running with a lease; False if another worker has it or it already ran."""
    now = utcnow()
    result = db.session.execute(
        update(FlowRun).where(FlowRun.id == run_id, FlowRun.status == "pending")
        .values(status="running", started_at=now, locked_until=now + LEASE)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def load_state(run: FlowRun) -> RunState | str:
    """The run's starting state, or why it cannot start."""
    trigger = dict(run.trigger or {})
    sample = trigger.pop("sampleAlert", None)
    alert = db.session.get(Alert, run.alert_id) if run.alert_id else None
    if alert is None and sample is None:
        return "the alert that started this run was deleted"
    return RunState(run=run, alert=alert, alert_json=alert_json(alert) if alert else sample, trigger=trigger,
                    depth=int(trigger.get("depth") or 0), dry_run=alert is None,
                    deadline=time.monotonic() + TIME_BUDGET)


def run_flow(run_id: int) -> str:
    """Run one FlowRun (a no-op unless it is pending); return its final status."""
    if not claim(run_id):
        return "skipped"
    run = db.session.get(FlowRun, run_id)
    state = load_state(run)
    if isinstance(state, str):
        return finish(run, None, state)
    try:
        error = execute(state, run.flow.steps or [])
    except Exception as exc:  # a bug must not leave the run 'running' until the sweeper finds it
        db.session.rollback()
        log.exception("flow run %s failed", run_id)
        error = f"internal error: {type(exc).__name__}: {exc}"
    run = db.session.get(FlowRun, run_id)
    return finish(run, db.session.get(Alert, run.alert_id) if run.alert_id else None, error)


def execute(state: RunState, steps: list) -> str | None:
    """Run ``steps`` (and the branches switches choose) in order; the error that stopped them, if any."""
    for step in steps:
        if state.executed >= STEP_BUDGET:
            return f"stopped: a run may take at most {STEP_BUDGET} steps"
        if state.remaining() <= 0:
            return f"stopped: the run went past its {TIME_BUDGET:g} s time budget before step {step['name']!r}"
        result, failure = take_step(state, step)
        if failure:
            return f"step {step['name']!r} failed: {failure}"
        if result.branch:
            error = execute(state, result.branch)
            if error:
                return error
    return None


def take_step(state: RunState, step: dict):
    """One step and its record, committed together (or the record alone, after a rollback)."""
    db.session.info[DEPTH_KEY] = state.depth + 1
    failure: Exception | None
    try:
        record, result, failure = run_step(state, step)
        if failure:
            db.session.rollback()
    except Exception as exc:
        db.session.rollback()
        log.exception("flow step %s of run %s raised", step.get("name"), state.run.id)
        record, result, failure = ({"name": step["name"], "type": step["type"], "status": "failed", "input": {},
                                    "output": None, "error": f"{type(exc).__name__}: {exc}",
                                    "errorClass": "internal", "durationMs": 0}, None, exc)
    finally:
        db.session.info.pop(DEPTH_KEY, None)
    state.executed += 1
    seen = (result.seen if result and result.seen else None) or \
        {"status": record["status"], "json": record["output"], "body": "", "output": record["output"]}
    state.steps[step["name"]] = seen
    state.run.steps = list(state.run.steps or []) + [record]
    db.session.commit()
    return result, failure


def finish(run: FlowRun, alert: Alert | None, error: str | None) -> str:
    """Close the run, note it on the alert's timeline and count it."""
    run.status = "failed" if error else "succeeded"
    run.error = error
    run.finished_at = utcnow()
    run.locked_until = None
    if alert is not None:
        add_timeline(alert, "FLOW_RUN", actor=f"flow:{run.flow.name}"[:64], flow=run.flow.name, flowId=run.flow_id,
                     runId=run.id, status=run.status, error=error, test=bool((run.trigger or {}).get("test")))
    FLOW_RUNS.labels(outcome=run.status).inc()
    db.session.commit()
    return run.status


def sweep(now) -> int:
    """Queue again pending runs whose job was lost; fail running runs whose worker stopped."""
    lost = [r for (r,) in db.session.query(FlowRun.id).filter(
        FlowRun.status == "pending", or_(FlowRun.locked_until.is_(None), FlowRun.locked_until <= now))
        .order_by(FlowRun.id).limit(SWEEP_BATCH)]
    for run_id in lost:
        db.session.execute(update(FlowRun).where(FlowRun.id == run_id, FlowRun.status == "pending")
                           .values(locked_until=now + PENDING_GRACE).execution_options(synchronize_session=False))
        jobs.RUN_FLOW.after_commit(run_id)
    db.session.commit()
    stuck = db.session.query(FlowRun).filter(FlowRun.status == "running", FlowRun.locked_until <= now) \
        .order_by(FlowRun.id).limit(SWEEP_BATCH).all()
    for run in stuck:
        alert = db.session.get(Alert, run.alert_id) if run.alert_id else None
        # its steps may have acted already, so it is not run again
        finish(run, alert, "the worker stopped before the run finished; it was not retried")
    return len(lost) + len(stuck)
