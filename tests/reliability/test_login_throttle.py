"""Signing in, as an attacker tries it: failures are throttled per account and per address (in
Redis, and in memory when Redis is away, never locking everyone out), a known and an unknown
username cost the same time, and a session cookie dies with a logout or a password change."""
import statistics
import time
from dataclasses import replace

from tests.conftest import csrf_from
from tests.support import free_port

PASSWORD = "correct horse battery"


def fresh(client, method, *args, **kwargs):
    """One request in an app context of its own: a fresh ``g`` and database session, as in production
    (the app fixture's context would otherwise carry Flask-Login's user from one request to the next)."""
    with client.application.app_context():
        return getattr(client, method)(*args, **kwargs)


def attempt(client, username, password, address="192.0.2.1"):
    page = fresh(client, "get", "/login", environ_base={"REMOTE_ADDR": address})
    token = csrf_from(page.get_data(as_text=True))
    return fresh(client, "post", "/login", data={"username": username, "password": password, "csrf_token": token},
                 environ_base={"REMOTE_ADDR": address})


def sign_in(client, username, password):
    assert attempt(client, username, password).status_code == 302


def throttled(response):
    text = response.get_data(as_text=True)
    assert response.status_code == 429, (response.status_code, text[:300])
    wait = int(response.headers["Retry-After"])
    assert 0 < wait <= 300 and f"try again in {wait} s" in text.lower(), text[:500]
    return wait


def test_five_wrong_passwords_stop_the_account_not_the_others(app, admin):
    client = app.test_client()
    for _ in range(5):
        assert attempt(client, "admin", "wrong").status_code == 401
    throttled(attempt(client, "admin", PASSWORD))  # even the right password waits: guessing stops here
    throttled(attempt(app.test_client(), "admin", PASSWORD, address="198.51.100.7"))  # from anywhere
    assert attempt(client, "someone-else", "wrong").status_code == 401  # the address is not yet throttled


def test_an_unknown_username_is_throttled_just_like_a_known_one(app, admin):
    client = app.test_client()
    for _ in range(5):
        assert attempt(client, "nobody", "wrong").status_code == 401
    throttled(attempt(client, "nobody", "wrong"))


def test_one_address_trying_many_accounts_is_throttled(app, admin):
    client = app.test_client()
    for n in range(20):
        assert attempt(client, f"user{n}", "wrong", address="203.0.113.9").status_code == 401
    throttled(attempt(client, "admin", PASSWORD, address="203.0.113.9"))
    assert attempt(app.test_client(), "admin", PASSWORD, address="203.0.113.10").status_code == 302


def test_a_good_sign_in_clears_the_accounts_failures(app, admin):
    client = app.test_client()
    for _ in range(4):
        assert attempt(client, "admin", "wrong").status_code == 401
    assert attempt(client, "admin", PASSWORD).status_code == 302
    for _ in range(4):
        assert attempt(app.test_client(), "admin", "wrong").status_code == 401


def test_with_redis_away_sign_in_still_works_and_is_still_throttled(app, admin):
    app.config["KLAXON"] = replace(app.config["KLAXON"], redis_url=f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    assert attempt(app.test_client(), "admin", PASSWORD).status_code == 302  # never locked out by an outage
    client = app.test_client()
    for _ in range(5):
        assert attempt(client, "admin", "wrong", address="192.0.2.50").status_code == 401
    throttled(attempt(client, "admin", PASSWORD, address="192.0.2.50"))
    assert time.monotonic() - started < 20


def test_a_known_and_an_unknown_username_take_the_same_time(app):
    from extensions import db
    from models import User

    for username in ("bsmith", "jdoe"):
        user = User(username=username, name=username, role="responder")
        user.set_password("the real password")  # the product's own hashing, as every real account has
        db.session.add(user)
    db.session.commit()
    client = app.test_client()

    def seconds(username, n):
        address = f"192.0.2.{100 + n}"
        token = csrf_from(fresh(client, "get", "/login", environ_base={"REMOTE_ADDR": address}).get_data(as_text=True))
        started = time.perf_counter()
        response = fresh(client, "post", "/login", environ_base={"REMOTE_ADDR": address},
                         data={"username": username, "password": "a wrong password", "csrf_token": token})
        assert response.status_code == 401
        return time.perf_counter() - started

    seconds("warm-up", 99)
    known, unknown = [], []
    for n in range(8):  # interleaved, so a busy moment of the machine slows both alike
        known.append(seconds(("bsmith", "jdoe")[n % 2], 2 * n))
        unknown.append(seconds(f"nobody{n}", 2 * n + 1))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.6 < ratio < 1.6, f"known {statistics.median(known) * 1000:.0f} ms, unknown " \
                              f"{statistics.median(unknown) * 1000:.0f} ms"


def copy_session(source, app):
    thief = app.test_client()
    thief.set_cookie("session", source.get_cookie("session").value)
    return thief


def signed_out(client):
    response = fresh(client, "get", "/alerts")
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_cookie_copied_before_logout_no_longer_works(app, admin):
    client = app.test_client()
    sign_in(client, "admin", PASSWORD)
    thief = copy_session(client, app)
    assert not signed_out(thief)  # the copy works while the session lives
    token = csrf_from(fresh(client, "get", "/alerts").get_data(as_text=True))
    assert fresh(client, "post", "/logout", data={"csrf_token": token}).status_code == 302
    assert signed_out(client) and signed_out(thief)


def test_a_password_change_ends_the_users_sessions(app, admin, api):
    from extensions import db
    from models import User

    responder = User(username="bsmith", name="Bob", role="responder")
    responder.set_password("first password")
    db.session.add(responder)
    db.session.commit()
    client = app.test_client()
    sign_in(client, "bsmith", "first password")
    assert not signed_out(client)
    with app.app_context():
        assert api.patch("/api/v1/users/bsmith", json={"password": "second password"}).status_code == 200
    assert signed_out(client)
    sign_in(client, "bsmith", "second password")
    assert not signed_out(client)
