"""Send one delivery: sign at send time, POST, classify the answer, plan the retry."""
from __future__ import annotations

import datetime as dt
import email.utils
import random
from dataclasses import dataclass

from ..activitypub.fetch import FetchError, FetchRefused, SafeClient
from ..activitypub.jsonld import ACTIVITY_JSON
from ..remote.signing import signer_for

# Retry steps after each failure (about three days in all), then give up and keep the row.
RETRY_STEPS = [dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=15), dt.timedelta(hours=1),
               dt.timedelta(hours=3), dt.timedelta(hours=6), dt.timedelta(hours=12)]
DAILY = dt.timedelta(hours=24)
GIVE_UP_AFTER = dt.timedelta(days=3)
JITTER = 0.2
PERMANENT = {400, 403, 404, 410}


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str  # sent | failed | queued (retry) | given_up
    status: int | None
    error: str | None
    next_attempt_at: dt.datetime | None = None

    @property
    def host_alive(self) -> bool:
        """Any HTTP answer but a 5xx means the host is up, even when it refused this one."""
        return self.status is not None and self.status < 500


def retry_delay(attempts: int) -> dt.timedelta:
    """The pause after the attempts-th failure, with jitter so retries don't arrive in waves."""
    step = RETRY_STEPS[attempts - 1] if attempts <= len(RETRY_STEPS) else DAILY
    return step * random.uniform(1 - JITTER, 1 + JITTER)


def _retry_after(value: str | None, now: dt.datetime) -> dt.timedelta | None:
    if not value:
        return None
    if value.strip().isdigit():
        return dt.timedelta(seconds=int(value.strip()))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when - now if when.tzinfo else None


def plan_retry(attempts: int, created_at: dt.datetime, now: dt.datetime, status: int | None, error: str,
               retry_after: dt.timedelta | None = None) -> Outcome:
    delay = retry_delay(attempts)
    if retry_after is not None and retry_after > delay:
        # Honour the server's wish, but never wait longer than our next step would.
        delay = min(retry_after, retry_delay(attempts + 1))
    when = now + delay
    if when - created_at > GIVE_UP_AFTER:
        return Outcome("given_up", status, error)
    return Outcome("queued", status, error, when)


async def send(client: SafeClient, inbox_url: str, body: bytes, key_id: str, private_key_pem: str, *,
               attempts: int, created_at: dt.datetime, now: dt.datetime) -> Outcome:
    """POST one activity to one inbox; `attempts` counts this try."""
    headers = {"Content-Type": ACTIVITY_JSON, "Accept": ACTIVITY_JSON}
    try:
        result = await client.post(inbox_url, body, headers, signer=signer_for(key_id, private_key_pem))
    except FetchRefused as exc:
        return Outcome("failed", None, exc.reason)
    except FetchError as exc:
        return plan_retry(attempts, created_at, now, getattr(exc, "status", None), exc.reason)
    if 200 <= result.status < 300:
        return Outcome("sent", result.status, None)
    reason = f"HTTP {result.status}: {result.body[:200].decode('utf-8', 'replace')}"
    if result.status in PERMANENT:
        return Outcome("failed", result.status, reason)
    return plan_retry(attempts, created_at, now, result.status, reason,
                      _retry_after(result.headers.get("retry-after"), now))
