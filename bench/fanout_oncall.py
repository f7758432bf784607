"""Fan-out through an on-call group: one alert to an escalating group of N users (default 1,000).

    python -m bench.fanout_oncall [--users 1000] [--workers 2]

As bench.fanout, but the group has one always-on shift whose timeline pages the N responders
together in its first wave and escalates to a lead an hour later, so the alert goes through the
on-call path (plan, ALERT-free rotation, availability of every member, EVENT_ESCALATED) instead
of an all-at-once group. Prints one JSON line with the same figures and the same target ratio.
"""
from __future__ import annotations

import time

from bench.command_line import command_line
from bench.fanout import HOOK, WARM, run
from bench.harness import api_setup, progress
from bench.receiver import Receiver
from bench.scenario import _check, create_configuration, create_users

SHIFT = {"name": "Always", "start": "2026-01-01T00:00", "end": "2026-01-02T00:00", "recurrence": {"frequency": "DAILY"}}


def setup(server, rx: Receiver, users: int) -> tuple[dict, dict]:
    """``users`` responders in the first wave of an on-call group's timeline, a lead 60 minutes on."""
    api = api_setup(server)
    started = time.perf_counter()
    names = create_users(api, server.url, rx.url + HOOK, users, prefix="fan")
    [lead] = create_users(api, server.url, rx.url + "/lead", 1, prefix="lead")
    timeline = [{"member": n} for n in names] + [{"member": lead, "delayMinutes": 60}]
    group = {"name": "Everyone", "shifts": [{**SHIFT, "timeline": timeline}]}
    _check(api.post(f"{server.url}/api/v1/groups", json=group, timeout=120), "create the on-call group")
    progress(f"fanout_oncall: {users} users and their on-call group made in {time.perf_counter() - started:.1f} s")
    [warm] = create_users(api, server.url, rx.url + WARM, 1, prefix="warm")
    return (create_configuration(api, server.url, "Fan-out bench", [{"id": "Everyone", "recipientType": "GROUP"}]),
            create_configuration(api, server.url, "Warm-up", [{"id": warm, "recipientType": "PERSON"}]))


def main(argv=None):
    command_line(run, __doc__, argv, fixed={"make": setup, "name": "fanout_oncall"}, users=1000, workers=2,
                 timeout=90.0)


if __name__ == "__main__":
    main()
