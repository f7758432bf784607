"""/api/v1/configurations: create, read, change, disable, regenerate the key, rotate the secret."""
from flask import jsonify

from alerting import configurations as configs
from alerting.errors import NotFound
from blueprints.api import body, bp, page
from extensions import db
from models import Configuration


def get_configuration(config_uuid) -> Configuration:
    cfg = db.session.query(Configuration).filter_by(uuid=config_uuid).first()
    if cfg is None:
        raise NotFound(f"No configuration {config_uuid!r}.")
    return cfg


@bp.get("/configurations")
def list_configurations():
    """List configurations, newest first."""
    return page(db.session.query(Configuration), Configuration.id, configs.to_json)


@bp.post("/configurations")
def create_configuration():
    """Create a configuration; the reply holds its integration URL, API key and signing secret."""
    cfg = configs.create(body())
    db.session.commit()
    return jsonify(configs.to_json(cfg)), 201


@bp.get("/configurations/<config_uuid>")
def get_configuration_view(config_uuid):
    """One configuration."""
    return jsonify(configs.to_json(get_configuration(config_uuid)))


@bp.patch("/configurations/<config_uuid>")
def update_configuration(config_uuid):
    """Change fields of a configuration (send only what changes); `enabled: false` disables it."""
    cfg = get_configuration(config_uuid)
    configs.apply(cfg, body(), creating=False)
    db.session.commit()
    return jsonify(configs.to_json(cfg))


@bp.delete("/configurations/<config_uuid>")
def delete_configuration(config_uuid):
    """Delete a configuration and its alerts."""
    db.session.delete(get_configuration(config_uuid))
    db.session.commit()
    return "", 204


@bp.post("/configurations/<config_uuid>/regenerate-key")
def regenerate_key(config_uuid):
    """A new API key; the old one stops working at once."""
    cfg = get_configuration(config_uuid)
    configs.regenerate_key(cfg)
    db.session.commit()
    return jsonify(configs.to_json(cfg))


@bp.post("/configurations/<config_uuid>/rotate-secret")
def rotate_secret(config_uuid):
    """A new signing secret; the old one is still signed with for the grace period."""
    cfg = get_configuration(config_uuid)
    configs.rotate_secret(cfg)
    db.session.commit()
    data = configs.to_json(cfg)
    data["signingSecrets"] = configs.active_secrets(cfg)
    return jsonify(data)
