"""A bounded cache of remote public keys, so a busy inbox verifies without database reads.

It also remembers recent failures and refetches, so a stream of badly signed requests cannot
make us fetch from some host once per request (security reference, row 12).
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

FAILURE_TTL = 60.0  # seconds a failed key fetch is remembered
REFRESH_INTERVAL = 60.0  # at most one refetch of a known key per interval


@dataclass(frozen=True, slots=True)
class CachedKey:
    key_id: str
    owner: str  # the actor's ap_id
    pem: str


class _Bounded(OrderedDict):
    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def remember(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.capacity:
            self.popitem(last=False)


class KeyCache:
    """Least-recently-used map of key id to key; small entries, so tens of thousands fit."""

    def __init__(self, capacity: int = 50_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self._entries: _Bounded = _Bounded(capacity)
        self._failures: _Bounded = _Bounded(10_000)  # key id -> (when, reason)
        self._refreshed: _Bounded = _Bounded(10_000)  # key id -> when
        self._clock = clock

    def get(self, key_id: str) -> CachedKey | None:
        entry = self._entries.get(key_id)
        if entry is not None:
            self._entries.move_to_end(key_id)
        return entry

    def put(self, entry: CachedKey) -> None:
        self._entries.remember(entry.key_id, entry)
        self._failures.pop(entry.key_id, None)

    def forget(self, key_id: str) -> None:
        self._entries.pop(key_id, None)

    def failed(self, key_id: str, reason: str) -> None:
        self._failures.remember(key_id, (self._clock(), reason))

    def recent_failure(self, key_id: str) -> str | None:
        """Why fetching this key failed, if it did within the last minute."""
        found = self._failures.get(key_id)
        if found is None:
            return None
        when, reason = found
        if self._clock() - when > FAILURE_TTL:
            self._failures.pop(key_id, None)
            return None
        return reason

    def may_refresh(self, key_id: str) -> bool:
        """True (and noted) unless this key was refetched within the last minute."""
        now = self._clock()
        last = self._refreshed.get(key_id)
        if last is not None and now - last < REFRESH_INTERVAL:
            return False
        self._refreshed.remember(key_id, now)
        return True

    def __len__(self) -> int:
        return len(self._entries)
