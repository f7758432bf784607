"""Dashboard pages."""
from flask import render_template

from blueprints.dashboard import bp
from extensions import db
from models import Alert


@bp.get("/alerts")
def alerts():
    rows = db.session.query(Alert).order_by(Alert.id.desc()).limit(50).all()
    return render_template("dashboard/alerts.html", alerts=rows)
