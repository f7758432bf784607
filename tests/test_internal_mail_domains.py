"""Email devices accept internal mail domains (issue 19, item 3), and real syntax checks stay."""
import pytest

from alerting.notifications.transports import validate_target


@pytest.mark.parametrize("address", ["a@corp.local", "a@localhost", "x@newcomer.test", "ops@mail.home.local"])
def test_internal_mail_domains_are_accepted(address):
    assert validate_target("email", address) is None


@pytest.mark.parametrize("address", ["a@@corp.local", "a@corp..local", "a@x.invalid", "a@x.onion", "no-at-sign"])
def test_bad_or_unroutable_addresses_are_still_refused(address):
    with pytest.raises(ValueError, match="target: not an email address"):
        validate_target("email", address)
