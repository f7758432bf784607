"""People in a real browser against a real `klaxon serve` (issue 19, items 6 and 8): every field's
error beside its field (a page form and an HTMX card form), members added to an existing group with
the tick-list picker, a device, a user and a group deleted after the confirm step, and each success
message in the one message area under the top bar. Screenshots go to tests/artifacts/people-*.png."""
import pytest

from bench.harness import api_setup

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def setup_people(server):
    api = api_setup(server)
    for name, full in (("bsmith", "Bob Smith"), ("jdoe", "Jane Doe"), ("amy", "Amy Pond")):
        device = {"name": "Mail", "kind": "email", "target": f"{name}@corp.local"}
        made = api.post(server.url + "/api/v1/users", json={"username": name, "name": full, "devices": [device]},
                        timeout=10)
        assert made.status_code == 201, made.text
    assert api.post(server.url + "/api/v1/groups", json={"name": "Night Owls", "members": ["bsmith"]},
                    timeout=10).status_code == 201


def messages(page):
    """Every success or error message on the page: (is it in the one message area, its text)."""
    return page.eval_on_selector_all(
        ".flash-success, .flash-error, .saved",
        "els => els.map(e => [!!e.closest('#flashes'), e.innerText.trim()])")


def test_errors_beside_fields_a_member_picker_and_deletes_with_one_message_area(server, pages, sign_in):
    setup_people(server)
    page = pages.open()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    sign_in(page)

    # A page form: two bad fields, two errors, each in its own field; what was typed stays.
    page.goto("/people")
    page.fill("#username", "Bad Name!")
    page.fill("#full-name", "Keep Me")
    page.fill("#password", "short")
    page.click("#add-user button[type=submit]")
    page.locator("#add-user .field.has-error").nth(1).wait_for()
    assert page.locator("#add-user .field.has-error").count() == 2
    assert "lower-case letters" in page.inner_text("#add-user .field:has(#username) .error")
    assert "at least 8 characters" in page.inner_text("#add-user .field:has(#password) .error")
    assert page.input_value("#full-name") == "Keep Me"
    pages.shot(page, "people-user-errors")
    # Chromium logs the answer's status as a console error; the 422 is what this step expects.
    assert pages.errors == ["console: Failed to load resource: the server responded with a status of 422 "
                            "(Unprocessable Entity)"]
    pages.errors.clear()

    # An HTMX card form: empty name and a bad address, both beside their fields.
    card = page.locator("#user-bsmith")
    card.locator("summary:has-text('Add a device')").click()
    card.locator("input[name=target]").fill("not-an-address")
    card.locator("button:has-text('Add device')").click()
    page.locator("#user-bsmith .field.has-error").nth(1).wait_for()
    assert "Must not be empty" in page.inner_text("#user-bsmith .field:has(input[name=name]) .error")
    assert "Not an email address" in page.inner_text("#user-bsmith .field:has(input[name=target]) .error")
    assert page.locator("#user-bsmith input[name=target]").input_value() == "not-an-address"
    pages.shot(page, "people-device-errors")

    # Delete a device: asked first, then the message in the one area and the device gone.
    page.goto("/people")
    page.locator("#user-amy form:has(button:has-text('Delete')) button.btn-ghost:has-text('Delete')").click()
    page.locator("#flashes .flash-success").wait_for()
    assert dialogs[-1] == "Delete the device Mail? Past notifications keep its name."
    assert "No devices" in page.inner_text("#user-amy")
    assert messages(page) == [[True, "Deleted device Mail."]]
    pages.shot(page, "people-device-deleted")

    # Add members to an existing group with the picker: type to narrow, tick two, add.
    page.goto("/people/groups")
    group = page.locator(".group-card:has-text('Night Owls')")
    group.locator("summary:has-text('Add members')").click()
    search = group.locator("[data-picker-search]")
    search.fill("jane")
    assert group.locator("[data-picker-item]:visible").count() == 1
    group.locator("label:has-text('Jane Doe') input").check()
    search.fill("zzz")
    assert group.locator("[data-picker-none]").is_visible()
    search.fill("")
    pages.shot(page, "people-picker")
    group.locator("label:has-text('Amy Pond') input").check()
    group.locator("button:has-text('Add ticked')").click()
    page.locator("#flashes .flash-success:has-text('Added')").wait_for()
    members = page.locator(".group-card:has-text('Night Owls') ol.members li").all_inner_texts()
    assert [m.split()[1] for m in members] == ["Bob", "Amy", "Jane"], members  # in the list's order
    assert messages(page) == [[True, "Added amy, jdoe to Night Owls."]]
    pages.shot(page, "people-members-added")

    # Group settings with a bad delay: the error beside the delay, nothing saved.
    page.locator(".group-card:has-text('Night Owls') input[name=escalationDelayMinutes]").fill("soon")
    page.locator(".group-card:has-text('Night Owls') .group-settings button").click()
    page.locator(".group-card .field.has-error").wait_for()
    assert "number of minutes" in page.inner_text(".group-card .field:has(input[name=escalationDelayMinutes]) .error")

    # Delete the group, then a user: each asked first, each card gone, one message each.
    assert messages(page) == []  # the refused save emptied the message area
    page.locator(".group-card:has-text('Night Owls') button:has-text('Delete group')").click()
    page.locator("#flashes .flash-success:has-text('Deleted group')").wait_for()
    assert dialogs[-1].startswith("Delete the group Night Owls?")
    assert page.locator(".group-card").count() == 0
    assert messages(page) == [[True, "Deleted group Night Owls."]]
    page.goto("/people")
    page.locator("#user-jdoe button:has-text('Delete user')").click()
    page.locator("#flashes .flash-success:has-text('Deleted user')").wait_for()
    assert dialogs[-1].startswith("Delete jdoe and their devices?")
    assert page.locator("#user-jdoe").count() == 0
    assert messages(page) == [[True, "Deleted user jdoe."]]
    box = page.locator("#flashes").bounding_box()  # seen where the reader is, however far down they clicked
    assert page.evaluate("window.scrollY") > 0 and 0 <= box["y"] < 200, box
    pages.shot(page, "people-user-deleted-viewport", full_page=False)
    pages.shot(page, "people-user-deleted")

    # Without JavaScript a delete button opens a page that asks (the same question); Cancel goes back.
    page.goto("/people/users/amy/delete")
    assert page.inner_text(".confirm-card p").startswith("Delete amy and their devices?")
    pages.shot(page, "people-confirm-page")
    page.click(".confirm-card a:has-text('Cancel')")
    page.wait_for_url("**/people#user-amy")
    assert page.locator("#user-amy").count() == 1

    # A page form's success message (a redirect) shows in the same one place.
    page.fill("#username", "newbie")
    page.click("#add-user button[type=submit]")
    page.locator("#flashes .flash-success:has-text('Added newbie')").wait_for()
    assert messages(page) == [[True, "Added newbie. Give them a device so alerts can reach them."]]

    # Two more page forms: every bad field marked at once, nothing saved.
    page.goto("/maintenance")
    page.fill("#mw-start", "2030-01-01T10:00")
    page.fill("#mw-end", "2030-01-01T09:00")
    page.click("#save-window")
    page.locator(".field.has-error").nth(1).wait_for()
    assert "Must not be empty" in page.inner_text(".field:has(#mw-name) .error")
    assert "after start" in page.inner_text(".field:has(#mw-end) .error")
    pages.shot(page, "forms-maintenance-errors")
    page.goto("/integrations/new?template=webhook")
    page.fill("#name", " ")
    page.click("summary:has-text('Advanced')")
    page.fill("#rateLimitPerMinute", "lots")
    page.fill("#dedupWindowMinutes", "-5")
    page.click("#save")
    page.locator(".field.has-error").nth(2).wait_for()
    assert page.locator(".field.has-error").count() == 3
    assert page.input_value("#rateLimitPerMinute") == "lots"
    pages.shot(page, "forms-configuration-errors")
    assert pages.errors == ["console: Failed to load resource: the server responded with a status of 422 "
                            "(Unprocessable Entity)"] * 2  # the two refused forms, as expected
    pages.errors.clear()
