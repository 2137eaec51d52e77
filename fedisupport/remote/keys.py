"""A bounded cache of remote public keys, so a busy inbox verifies without database reads."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CachedKey:
    key_id: str
    owner: str  # the actor's ap_id
    pem: str


class KeyCache:
    """Least-recently-used map of key id to key; small entries, so tens of thousands fit."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, CachedKey] = OrderedDict()

    def get(self, key_id: str) -> CachedKey | None:
        entry = self._entries.get(key_id)
        if entry is not None:
            self._entries.move_to_end(key_id)
        return entry

    def put(self, entry: CachedKey) -> None:
        self._entries[entry.key_id] = entry
        self._entries.move_to_end(entry.key_id)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def forget(self, key_id: str) -> None:
        self._entries.pop(key_id, None)

    def __len__(self) -> int:
        return len(self._entries)
