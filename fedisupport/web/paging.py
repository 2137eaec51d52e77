"""Keyset cursors: pages are found by where the last one ended, never by OFFSET."""
from __future__ import annotations

import datetime as dt


def encode_cursor(when: dt.datetime, row_id: int) -> str:
    micros = int(when.timestamp() * 1_000_000)
    return f"{micros}.{row_id}"


def decode_cursor(value: str | None) -> tuple[dt.datetime, int] | None:
    """The (timestamp, id) a cursor names, or None for a missing or mangled cursor."""
    if not value:
        return None
    micros, sep, row_id = value.partition(".")
    if not sep or not micros.lstrip("-").isdigit() or not row_id.isdigit() or len(value) > 40:
        return None
    try:
        when = dt.datetime.fromtimestamp(int(micros) / 1_000_000, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return when, int(row_id)
