"""Workflow Templates: the catalogue of tiles, filtered as you type, and the configurations made so far."""
from flask import request
from sqlalchemy import func

from alerting.configurations import TEMPLATE_INFO
from blueprints.dashboard import bp
from blueprints.dashboard.forms import admin_required, render
from extensions import db
from models import Alert, Configuration

# Short marks for the tile icons; colours live in klaxon.css (.tile-icon-<slug>).
TILE_MARKS = {"webhook": "W", "alertmanager": "AM", "grafana": "G", "pagerduty": "PD", "custom": "{ }",
              "heartbeat": "♥"}


def matching_tiles(query: str) -> list[dict]:
    """Templates whose slug, title or description contains every word of ``query`` (any case)."""
    words = query.lower().split()
    tiles = []
    for slug, (title, description) in TEMPLATE_INFO.items():
        haystack = f"{slug} {title} {description}".lower()
        if all(word in haystack for word in words):
            tiles.append({"slug": slug, "title": title, "description": description,
                          "mark": TILE_MARKS.get(slug, slug[:1].upper())})
    return tiles


def configuration_rows() -> list[tuple]:
    """(configuration, alert count, last alert time), by name."""
    counts = {cid: (n, last) for cid, n, last in db.session.query(
        Alert.configuration_id, func.count(Alert.id), func.max(Alert.created_at)).group_by(Alert.configuration_id)}
    configs = db.session.query(Configuration).order_by(func.lower(Configuration.name)).all()
    return [(cfg, *counts.get(cfg.id, (0, None))) for cfg in configs]


@bp.get("/integrations")
@admin_required
def templates():
    query = request.args.get("q", "").strip()[:100]
    return render("dashboard/templates.html", "tiles", q=query, tiles=matching_tiles(query),
                  selected=request.args.get("template"), configurations=configuration_rows(),
                  template_titles={slug: title for slug, (title, _d) in TEMPLATE_INFO.items()})
