"""Time-ordered 63-bit ids, made before a row is written so its URL is known up front.

Made in the application rather than the database so that several processes (and machines)
can mint them without a round trip: 47 bits of milliseconds since 2024, 16 random bits.
"""
from __future__ import annotations

import secrets
import time

_EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def new_id(now_ms: int | None = None) -> int:
    ms = (now_ms if now_ms is not None else time.time_ns() // 1_000_000) - _EPOCH_MS
    return (ms << 16) | secrets.randbits(16)


def token() -> str:
    """An unguessable URL-safe token (activity ids, session ids)."""
    return secrets.token_urlsafe(16)
