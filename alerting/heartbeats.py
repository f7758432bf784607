"""Heartbeats (SPEC §10): a `heartbeat` configuration expects a ping every ``intervalMinutes``.

State is computed from the database alone, so every process agrees and a restart changes
nothing: a heartbeat that never pinged is ``never``; after a ping it is ``up`` until
``late_at`` (last ping + interval), ``late`` until ``due_at`` (+ grace), then ``down``. The
sweeper's ``sweep`` opens the "No heartbeat" alert once per outage: one conditional UPDATE
claims ``down_at`` and the alert is created in the same transaction. The next ping clears
``down_at`` the same way and ends the alert (TERMINATED_EXTERNAL, ``integration:<name>``).
Minutes are ``KLAXON_MINUTE_SECONDS`` seconds long (60; tests make them short).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import update

from alerting import validation as v
from alerting.alerts.create import create_alert
from alerting.alerts.lifecycle import change_status
from alerting.sources.base import AlertChange
from extensions import db
from models import Alert, Configuration, Heartbeat, HeartbeatPing, iso, utcnow

KEEP_PINGS = 50  # recent pings kept per heartbeat (the dashboard's table)
DEFAULT_INTERVAL, DEFAULT_GRACE = 60, 5
MAX_MINUTES = 525_600  # a year
STATES = ("up", "late", "down", "never")


def minutes(count: float) -> timedelta:
    """``count`` of Klaxon's minutes (KLAXON_MINUTE_SECONDS long)."""
    return timedelta(seconds=count * current_app.config["KLAXON"].minute_seconds)


def of(cfg: Configuration) -> Heartbeat | None:
    """The heartbeat row of a `heartbeat` configuration (None for other templates or before saving)."""
    if cfg.template != "heartbeat" or cfg.id is None:
        return None
    return db.session.query(Heartbeat).filter_by(configuration_id=cfg.id).first()


def apply(cfg: Configuration, data: dict, creating: bool) -> None:
    """Set ``intervalMinutes`` and ``graceMinutes`` of a `heartbeat` configuration (others ignore them)."""
    if cfg.template != "heartbeat":
        return
    beat = None if creating else of(cfg)
    if beat is None:
        beat = Heartbeat(configuration=cfg, interval_minutes=DEFAULT_INTERVAL, grace_minutes=DEFAULT_GRACE)
        db.session.add(beat)
    if "intervalMinutes" in data:
        beat.interval_minutes = v.integer(data["intervalMinutes"], "intervalMinutes", minimum=1,
                                          maximum=MAX_MINUTES, default=DEFAULT_INTERVAL)
    if "graceMinutes" in data:
        beat.grace_minutes = v.integer(data["graceMinutes"], "graceMinutes", minimum=0, maximum=MAX_MINUTES,
                                       default=DEFAULT_GRACE)
    if beat.last_ping_at is not None:
        _schedule(beat, beat.last_ping_at)


def _schedule(beat: Heartbeat, last: datetime) -> None:
    beat.late_at = last + minutes(beat.interval_minutes)
    beat.due_at = beat.late_at + minutes(beat.grace_minutes)


def state(beat: Heartbeat, now: datetime | None = None) -> str:
    """up, late, down or never, from the row alone."""
    now = now or utcnow()
    if beat.down_at is not None or (beat.due_at is not None and beat.due_at <= now):
        return "down"
    if beat.last_ping_at is None:
        return "never"
    return "late" if beat.late_at <= now else "up"


def to_json(cfg: Configuration) -> dict:
    """The heartbeat fields of a configuration's JSON (empty for other templates)."""
    beat = of(cfg)
    if beat is None:
        return {}
    return {"intervalMinutes": beat.interval_minutes, "graceMinutes": beat.grace_minutes,
            "heartbeat": {"state": state(beat), "lastPingAt": iso(beat.last_ping_at),
                          "nextExpectedAt": iso(beat.late_at), "downSince": iso(beat.down_at),
                          "alertId": beat.alert_id}}


def ping(cfg: Configuration, method: str, remote_addr: str | None, user_agent: str | None) -> dict:
    """Record a ping, end an open outage, and answer 200's body; the caller commits."""
    beat = of(cfg) or Heartbeat(configuration=cfg, interval_minutes=DEFAULT_INTERVAL, grace_minutes=DEFAULT_GRACE)
    db.session.add(beat)
    now = utcnow()
    beat.last_ping_at = now
    _schedule(beat, now)
    db.session.flush()
    ended = _end_outage(cfg, beat)
    db.session.add(HeartbeatPing(heartbeat_id=beat.id, at=now, method=method[:8], remote_addr=(remote_addr or "")[:64],
                                 user_agent=(user_agent or "")[:200] or None, ended_outage=ended))
    _forget_old_pings(beat.id)
    return {"status": "up", "nextExpectedAt": iso(beat.late_at)}


def _end_outage(cfg: Configuration, beat: Heartbeat) -> bool:
    """Clear ``down_at`` (once, whoever races) and end the outage's alert if it is still open."""
    alert_id = beat.alert_id
    cleared = db.session.execute(
        update(Heartbeat).where(Heartbeat.id == beat.id, Heartbeat.down_at.is_not(None))
        .values(down_at=None, alert_id=None).execution_options(synchronize_session=False)).rowcount
    db.session.expire(beat, ["down_at", "alert_id"])
    if not cleared:
        return False
    alert = db.session.get(Alert, alert_id) if alert_id else None
    if alert is not None and alert.is_open:
        change_status(alert, "TERMINATED_EXTERNAL", actor=f"integration:{cfg.name}", reason="heartbeat ping")
    return True


def _forget_old_pings(heartbeat_id: int) -> None:
    keep_from = (db.session.query(HeartbeatPing.id).filter_by(heartbeat_id=heartbeat_id)
                 .order_by(HeartbeatPing.id.desc()).offset(KEEP_PINGS).limit(1).scalar())
    if keep_from is not None:
        db.session.query(HeartbeatPing).filter(HeartbeatPing.heartbeat_id == heartbeat_id,
                                               HeartbeatPing.id <= keep_from).delete(synchronize_session=False)


def recent_pings(beat: Heartbeat, limit: int = KEEP_PINGS) -> list[HeartbeatPing]:
    return (db.session.query(HeartbeatPing).filter_by(heartbeat_id=beat.id)
            .order_by(HeartbeatPing.id.desc()).limit(limit).all())


def open_outage(beat_id: int, now: datetime) -> Alert | None:
    """Claim the outage of one overdue heartbeat and open its alert; None if another process did."""
    claimed = db.session.execute(
        update(Heartbeat).where(Heartbeat.id == beat_id, Heartbeat.down_at.is_(None), Heartbeat.due_at <= now)
        .values(down_at=now).execution_options(synchronize_session=False)).rowcount
    if not claimed:
        db.session.rollback()
        return None
    beat = db.session.get(Heartbeat, beat_id)
    cfg = beat.configuration
    silent = max(1, round((now - beat.last_ping_at) / minutes(1)))
    change = AlertChange(
        action="trigger", subject=f"No heartbeat from {cfg.name} for {silent} min",
        message=(f"{cfg.name} pings every {beat.interval_minutes} min (grace {beat.grace_minutes} min); "
                 f"the last ping came at {beat.last_ping_at:%Y-%m-%d %H:%M:%S} UTC."),
        properties={"Heartbeat": cfg.name, "Last ping": iso(beat.last_ping_at),
                    "Interval minutes": beat.interval_minutes, "Grace minutes": beat.grace_minutes})
    outcome = create_alert(cfg, change, actor="klaxon")
    beat.alert_id = outcome.alert.id if outcome.alert else None
    db.session.commit()
    return outcome.alert


def sweep(now: datetime) -> int:
    """Open the alert of every heartbeat overdue by interval + grace that has no outage yet."""
    overdue = [b for (b,) in db.session.query(Heartbeat.id).join(Configuration)
               .filter(Heartbeat.down_at.is_(None), Heartbeat.due_at <= now, Configuration.enabled.is_(True))
               .order_by(Heartbeat.due_at).limit(200)]
    db.session.rollback()
    return sum(open_outage(beat_id, now) is not None for beat_id in overdue)


def counts_by_state(now: datetime | None = None) -> dict[str, int]:
    """How many heartbeats are in each state (for /metrics)."""
    found = dict.fromkeys(STATES, 0)
    for beat in db.session.query(Heartbeat):
        found[state(beat, now)] += 1
    return found
