"""Retry timing for update webhooks: the schedule setting and full-jitter delays."""
from __future__ import annotations

import random

import pytest

from alerting.update_webhooks.retry import next_delay
from config import ConfigError, load_settings, parse_schedule

DEFAULT = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]


class Fixed:
    """An rng whose uniform(a, b) lands at a fixed fraction of the way from a to b."""

    def __init__(self, fraction):
        self.fraction = fraction

    def uniform(self, a, b):
        return a + (b - a) * self.fraction


def test_it_parses_the_default_schedule():
    assert parse_schedule("KLAXON_WEBHOOK_RETRY_SCHEDULE", "0,5,300,1800,7200,18000,36000,36000") == tuple(DEFAULT)
    assert parse_schedule("KLAXON_WEBHOOK_RETRY_SCHEDULE", " 0, 1 ,2,3 ") == (0, 1, 2, 3)
    assert load_settings(env={}).webhook_retry_schedule == tuple(DEFAULT)


@pytest.mark.parametrize("text", ["", "0,5,soon", "0,-5", "0,1.5", "0,,5", "five", "²", "0,+5", "0,5,"])
def test_it_rejects_nonsense_naming_the_setting(text):
    with pytest.raises(ConfigError, match="KLAXON_WEBHOOK_RETRY_SCHEDULE"):
        parse_schedule("KLAXON_WEBHOOK_RETRY_SCHEDULE", text)


@pytest.mark.parametrize("text", ["0,5,soon", "0,-5", "0,,5", "²"])
def test_the_environment_is_read_with_the_same_rule(text):
    for name in ("KLAXON_WEBHOOK_RETRY_SCHEDULE", "KLAXON_NOTIFY_RETRY_SCHEDULE"):
        with pytest.raises(ConfigError, match=name):
            load_settings(env={name: text})


def test_each_retry_waits_a_random_time_up_to_its_step():
    rng = random.Random(7)
    for attempts, step in [(1, 5), (2, 300), (3, 1800), (7, 36000)]:
        delays = [next_delay(attempts, DEFAULT, rng=rng) for _ in range(200)]
        assert all(0.5 <= d <= step for d in delays)
        assert max(delays) > step * 0.8 and min(delays) < step * 0.2  # spread over the whole range


def test_the_rule_is_uniform_between_zero_and_the_step_with_a_half_second_floor():
    assert next_delay(2, DEFAULT, rng=Fixed(0.5)) == 150.0
    assert next_delay(2, DEFAULT, rng=Fixed(1.0)) == 300.0
    assert next_delay(1, DEFAULT, rng=Fixed(0.0)) == 0.5
    assert next_delay(1, [0, 0.2], rng=Fixed(0.0)) == 0.2  # the step itself is below the floor
    assert next_delay(1, [0, 0], rng=Fixed(0.9)) == 0.0


def test_attempts_run_out_after_the_last_step():
    assert next_delay(len(DEFAULT) - 1, DEFAULT, rng=Fixed(1.0)) == 36000.0
    assert next_delay(len(DEFAULT), DEFAULT) is None
    assert next_delay(4, [0, 1, 2, 3], retry_after=60) is None


def test_retry_after_is_a_floor_not_a_ceiling():
    assert next_delay(1, DEFAULT, retry_after=120, rng=Fixed(0.5)) == 120.0
    assert next_delay(2, DEFAULT, retry_after=2, rng=Fixed(0.5)) == 150.0


def test_an_outlandish_retry_after_is_held_to_a_day():
    assert next_delay(1, DEFAULT, retry_after=10 ** 9, rng=Fixed(0.5)) == 86400.0


def test_a_negative_attempt_count_is_a_bug():
    with pytest.raises(ValueError):
        next_delay(-1, DEFAULT)
