"""Heartbeats: each `heartbeat` configuration's state (up, late, down, never), last ping, recent
pings and the curl line a cron job runs to ping it."""
from __future__ import annotations

import shlex

from flask import abort

from alerting import configurations as configs
from alerting import heartbeats
from blueprints.dashboard import bp
from blueprints.dashboard.forms import admin_required, render
from extensions import db
from models import Alert, Configuration

LIST = "dashboard/heartbeats.html"
DETAIL = "dashboard/heartbeat.html"


def curl_line(cfg: Configuration) -> str:
    """What a crontab line runs after its job: quiet, bounded, retried (`&&` after the job pings only on success)."""
    return f"curl -fsS -m 10 --retry 3 -o /dev/null {shlex.quote(configs.integration_url(cfg))}"


def rows() -> list[dict]:
    found = []
    for cfg in db.session.query(Configuration).filter_by(template="heartbeat").order_by(Configuration.name):
        beat = heartbeats.of(cfg)
        if beat is not None:
            found.append({"cfg": cfg, "beat": beat, "state": heartbeats.state(beat), "curl": curl_line(cfg)})
    return found


@bp.get("/heartbeats")
@admin_required
def heartbeats_list():
    return render(LIST, "rows", rows=rows())


@bp.get("/heartbeats/<config_uuid>")
@admin_required
def heartbeat_detail(config_uuid):
    cfg = db.session.query(Configuration).filter_by(uuid=config_uuid, template="heartbeat").first()
    beat = heartbeats.of(cfg) if cfg else None
    if beat is None:
        abort(404)
    alert = db.session.get(Alert, beat.alert_id) if beat.alert_id else None
    return render(DETAIL, "status", cfg=cfg, beat=beat, state=heartbeats.state(beat), curl=curl_line(cfg),
                  pings=heartbeats.recent_pings(beat), alert=alert)
