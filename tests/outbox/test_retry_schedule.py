"""The retry plan: growing steps with jitter, Retry-After honoured, three days then give up."""
import datetime as dt

import pytest

from fedisupport.outbox.deliver import DAILY, GIVE_UP_AFTER, JITTER, RETRY_STEPS, plan_retry, retry_delay

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("attempts", range(1, 12))
def test_each_step_is_within_its_jitter(attempts):
    step = RETRY_STEPS[attempts - 1] if attempts <= len(RETRY_STEPS) else dt.timedelta(hours=24)
    for _ in range(50):
        delay = retry_delay(attempts)
        assert step * 0.8 <= delay <= step * 1.2


def test_retry_after_is_honoured_up_to_the_next_step():
    asked = dt.timedelta(minutes=3)
    outcome = plan_retry(1, NOW, NOW, 429, "slow down", retry_after=asked)
    assert outcome.state == "queued"
    assert outcome.next_attempt_at - NOW == asked
    huge = plan_retry(1, NOW, NOW, 503, "maintenance", retry_after=dt.timedelta(days=2))
    assert huge.next_attempt_at - NOW <= RETRY_STEPS[1] * 1.2


def test_a_schedule_runs_about_three_days_then_gives_up():
    created, now, attempts = NOW, NOW, 0
    while True:
        attempts += 1
        outcome = plan_retry(attempts, created, now, 503, "down")
        if outcome.state == "given_up":
            break
        now = outcome.next_attempt_at
    # The last try lands within one (jittered) daily step before the three-day limit.
    assert GIVE_UP_AFTER - DAILY * (1 + JITTER) < now - created <= GIVE_UP_AFTER
    assert 9 <= attempts <= 12
