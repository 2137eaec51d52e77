import datetime as dt

import pytest

from fedisupport.web.paging import decode_cursor, encode_cursor


@pytest.mark.parametrize("when", [
    dt.datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=dt.timezone.utc),
    dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone.utc),
    dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
])
def test_cursors_round_trip_to_the_microsecond(when):
    assert decode_cursor(encode_cursor(when, 42)) == (when, 42)


@pytest.mark.parametrize("bad", ["", "x", "12", "12.", ".5", "1.2.3", "9" * 50 + ".1", "-99999999999999999999.1", "1.-2"])
def test_mangled_cursors_are_ignored(bad):
    assert decode_cursor(bad) is None
