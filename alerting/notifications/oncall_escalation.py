"""Escalation of an on-call group (SPEC §9, §3): the timeline of the shifts active when the alert was made.

When an alert is dispatched, each GROUP target whose group has shifts gets an EscalationPlan:
the waves of every shift active at the alert's creation (rotated, with overrides, unavailable
users skipped; ALERT rotation takes its position from the shift's counter in this transaction),
each shift's repeats laid out after it, and the fallback when a shift has nobody or none is
active. ``AlertTarget.next_position`` is the next step and ``next_at`` when it is due, written
before anything is sent, so the sweeper takes a step whose bell was lost (escalation.sweep).
A stopping response stops the target, which ends the whole group's escalation, repeats included.
A group without shifts never gets a plan: its escalation is recipients.step's, as before.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import update
from sqlalchemy.orm import selectinload

from alerting import events
from alerting.alerts.lifecycle import add_timeline
from alerting.notifications import oncall, recipients, rota
from extensions import db
from models import Alert, AlertTarget, EscalationPlan, Group, Notification, Shift, User


def minute() -> timedelta:
    """How long a minute of an on-call timeline is (KLAXON_MINUTE_SECONDS; 60 but in tests and demos)."""
    return timedelta(seconds=current_app.config["KLAXON"].minute_seconds)


def on_call_group(target: AlertTarget) -> Group | None:
    """The target's group when it has shifts (and so escalates by plan); None otherwise."""
    if target.recipient_type != "GROUP" or not target.group_id:
        return None
    group = db.session.get(Group, target.group_id)
    return group if group is not None and group.shifts else None


def take_alert_sequences(group: Group, at: datetime) -> dict[str, int]:
    """One position from each ALERT-rotated shift active at ``at``, by an atomic UPDATE … RETURNING."""
    if not any(s.rotation_every == "ALERT" and s.rotation_direction != "NONE" for s in group.shifts):
        return {}
    names = set(oncall.alert_rotated_shifts(rota.to_group(group, since=at), at))
    taken = {}
    for shift in group.shifts:
        if shift.name in names:
            after = db.session.execute(
                update(Shift).where(Shift.id == shift.id).values(alert_sequence=Shift.alert_sequence + 1)
                .returning(Shift.alert_sequence).execution_options(synchronize_session=False)).scalar_one()
            taken[shift.name] = after - 1
    return taken


def plan_steps(group: Group, at: datetime, alert_sequence: dict[str, int]) -> tuple[list[dict], str | None]:
    """The group's steps for an alert made at ``at`` (minutes from the start), and why there are none."""
    available = rota.Availability()
    found = rota.resolve(group, at, available, {**rota.sequences(group), **alert_sequence})
    expander = rota.Expander(at, available)
    steps: list[dict] = []
    for shift in found.shifts:
        waves = [(level, wave.delay_minutes, expander.users(wave.recipients))
                 for level, wave in enumerate(shift.waves, 1)]
        if not shift.waves:
            continue
        length = shift.waves[-1].delay_minutes + shift.repeat.after_minutes
        for round_ in range(shift.repeat.times + 1):
            steps += [{"at": round_ * length + delay, "shift": shift.name, "level": level, "round": round_,
                       "recipients": users} for level, delay, users in waves if users]
    fallback = expander.users(found.fallback)
    if fallback:
        steps.append({"at": 0, "shift": None, "level": 1, "round": 0, "recipients": fallback, "fallback": True})
    steps.sort(key=lambda s: s["at"])  # stable: shifts keep the group's order within a minute
    reason = None if steps else f"{found.fallback_reason or 'nobody is on call'} and no fallback member is available"
    return steps, reason


def first_steps(alert: Alert, target: AlertTarget, now: datetime, stopped: set[int], seen: set[int],
                lease: timedelta) -> list[Notification] | None:
    """Plan an on-call group's escalation and take its first steps; None if the target has no shifts."""
    group = on_call_group(target)
    if group is None:
        return None
    at = rota.aware(alert.created_at)
    steps, reason = plan_steps(group, at, take_alert_sequences(group, at))
    if alert.escalation_override:  # the trigger asked for everyone at once: every wave now, no repeats
        steps = [{**s, "at": 0} for s in steps if s["round"] == 0]
    plan = EscalationPlan(target_id=target.id, started_at=now, steps=steps)
    db.session.add(plan)
    if reason:
        target.state, target.next_at = "done", None
        recipients.report_failure(target, reason)
        return []
    return take_steps(alert, target, plan, now, stopped, seen, lease)


def next_steps(alert: Alert, target: AlertTarget, now: datetime, stopped: set[int],
               lease: timedelta) -> list[Notification] | None:
    """Take the due steps of a planned target; None if the target has no plan (a group without shifts)."""
    plan = db.session.get(EscalationPlan, target.id)
    if plan is None:
        return None
    return take_steps(alert, target, plan, now, stopped, recipients.notified_device_ids(alert.id), lease)


def _devices(usernames: list[str], stopped: set[int]):
    users = {u.username: u for u in db.session.query(User).options(selectinload(User.devices))
             .filter(User.username.in_(usernames))} if usernames else {}
    return [d for name in usernames if name in users and users[name].id not in stopped
            for d in recipients.enabled_devices(users[name])]


def take_steps(alert: Alert, target: AlertTarget, plan: EscalationPlan, now: datetime, stopped: set[int],
               seen: set[int], lease: timedelta) -> list[Notification]:
    """Take the step at ``next_position`` and any due with it; record each, then when the next is due.

    The start of the timeline moves with a step taken early (ESCALATE) or late (a lost bell), so
    the delays after it stay whole. A repeat pages again devices the alert already notified.
    """
    steps, index = plan.steps, target.next_position
    notes: list[Notification] = []
    if index < len(steps):
        due = steps[index]["at"]
        plan.started_at = now - due * minute()
        while index < len(steps) and steps[index]["at"] <= due:
            notes += _take(alert, target, steps[index], now, stopped, seen if steps[index]["round"] == 0 else set(),
                           lease)
            index += 1
    target.next_position = index
    if index < len(steps):
        target.state, target.next_at = "active", plan.started_at + steps[index]["at"] * minute()
    else:
        target.state, target.next_at = "done", None
    return notes


def _take(alert: Alert, target: AlertTarget, step: dict, now: datetime, stopped: set[int], seen: set[int],
          lease: timedelta) -> list[Notification]:
    notes = recipients.new_notifications(alert, target, _devices(step["recipients"], stopped), seen, stopped,
                                         now, lease)
    add_timeline(alert, "EVENT_ESCALATED", group=target.recipient_id, shift=step["shift"], level=step["level"],
                 round=step["round"], fallback=bool(step.get("fallback")), recipients=step["recipients"],
                 devices=[n.device_name for n in notes])
    if step["level"] > 1 or step["round"] > 0 or step.get("fallback"):  # the first members are no escalation
        events.publish(events.GroupEscalated(alert, group=target.recipient_id, shift=step["shift"],
                                             recipients=tuple(step["recipients"]), level=step["level"]))
    return notes
