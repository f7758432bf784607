"""The application factory and the health endpoints."""
from app import create_app


def test_the_factory_builds_an_app_from_settings(settings):
    app = create_app({"SETTINGS": settings, "TESTING": True})
    assert app.testing
    assert app.config["KLAXON"] is settings
    assert app.config["SECRET_KEY"] == settings.secret_key


def test_healthz_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_checks_database_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_reports_an_unreachable_redis(app, settings, tmp_path):
    from dataclasses import replace

    broken = create_app({"SETTINGS": replace(settings, redis_url=f"unix://{tmp_path}/nothing.sock"),
                         "TESTING": True})
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("unreachable")


def test_metrics_are_prometheus_text(client, api_token):
    assert client.get("/metrics").status_code == 401  # a bearer token is needed (tests/reliability/test_metrics_access.py)
    response = client.get("/metrics", headers={"Authorization": f"Bearer {api_token}"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "klaxon_queue_depth" in body
    assert "klaxon_time_to_notify_seconds" in body
