"""Forms show every field's error at once, beside its field (issue 19, item 6)."""
import pytest

from alerting.errors import Checks, FieldError, FieldErrors
from tests.conftest import csrf_from

HTMX = {"HX-Request": "true"}


@pytest.fixture
def token(admin_client):
    return csrf_from(admin_client.get("/people").get_data(as_text=True))


def test_checks_keep_every_field_error_and_read_as_the_first():
    checks = Checks()

    def bad(field):
        raise FieldError(field, "is wrong")

    assert checks.run(bad, "name") is None and checks.run(lambda: 3) == 3 and checks.run(bad, "target") is None
    with pytest.raises(FieldErrors) as caught:
        checks.done()
    assert list(caught.value.errors) == ["name", "target"] and caught.value.field == "name"


def test_a_device_with_no_name_and_a_bad_email_shows_both_errors_beside_their_fields(admin_client, token):
    admin_client.post("/people/users", data={"username": "bsmith", "csrf_token": token})
    page = admin_client.post("/people/users/bsmith/devices", headers=HTMX, data={
        "name": "", "kind": "email", "target": "not-an-address", "csrf_token": token}).get_data(as_text=True)
    name_at, target_at = page.index('name="name"'), page.index('name="target"')
    name_error = page.index('<p class="error" role="alert">Must not be empty</p>')
    target_error = page.index('<p class="error" role="alert">Not an email address')
    assert name_at < name_error < target_at < target_error  # each beside its own field


def test_the_api_still_answers_with_the_first_field(api):
    answer = api.post("/api/v1/users", json={"username": "amy", "devices": [
        {"name": "", "kind": "email", "target": "nope"}]})
    assert answer.status_code == 400
    assert "devices[0].name" in str(answer.get_json())
