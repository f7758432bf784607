"""Bearer tokens note when they were last used: written on use, at most once a minute per token."""
from datetime import timedelta

from extensions import db
from models import ApiToken, utcnow


def last_used(token_hash):
    db.session.remove()  # the test client shares our session: read what was committed
    return db.session.query(ApiToken.last_used_at).filter_by(token_hash=token_hash).scalar()


def test_a_token_notes_its_first_use(api, api_token):
    token_hash = ApiToken.hash(api_token)
    assert last_used(token_hash) is None
    before = utcnow()
    assert api.get("/api/v1/configurations").status_code == 200
    used = last_used(token_hash)
    assert used is not None and before <= used <= utcnow()


def test_it_writes_at_most_once_a_minute(api, api_token):
    token_hash = ApiToken.hash(api_token)
    api.get("/api/v1/configurations")
    first = last_used(token_hash)
    for _ in range(3):
        assert api.get("/api/v1/configurations").status_code == 200
    assert last_used(token_hash) == first


def test_a_use_after_a_minute_is_noted_again(api, api_token):
    token_hash = ApiToken.hash(api_token)
    stale = utcnow() - timedelta(minutes=2)
    db.session.query(ApiToken).filter_by(token_hash=token_hash).update({"last_used_at": stale})
    db.session.commit()
    api.get("/api/v1/configurations")
    assert last_used(token_hash) > stale + timedelta(minutes=1)


def test_a_wrong_token_notes_nothing(client, api_token):
    response = client.get("/api/v1/configurations", headers={"Authorization": "Bearer kx_wrong"})
    assert response.status_code == 401
    assert last_used(ApiToken.hash(api_token)) is None
