"""Keyset cursors: pages are found by where the last one ended, never by OFFSET."""
from __future__ import annotations

import datetime as dt

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICROSECOND = dt.timedelta(microseconds=1)


def encode_cursor(when: dt.datetime, row_id: int) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    micros = (when - _EPOCH) // _MICROSECOND  # whole numbers: no float rounding
    return f"{micros}.{row_id}"


def decode_cursor(value: str | None) -> tuple[dt.datetime, int] | None:
    """The (timestamp, id) a cursor names, or None for a missing or mangled cursor."""
    if not value:
        return None
    micros, sep, row_id = value.partition(".")
    if not sep or not micros.lstrip("-").isdigit() or not row_id.isdigit() or len(value) > 40:
        return None
    try:
        when = _EPOCH + int(micros) * _MICROSECOND
    except (OverflowError, OSError, ValueError):
        return None
    return when, int(row_id)
