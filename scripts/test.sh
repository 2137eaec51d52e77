#!/usr/bin/env bash
# Install everything the tests need, then run the whole suite. Arguments go to pytest.
# Set FEDISUPPORT_TEST_DATABASE_URL=postgresql://... to run it on PostgreSQL instead of SQLite.
# The tests run in FEDISUPPORT_TEST_PROCESSES processes (pytest-xdist; default 3: on two cores,
# much of each test is spent waiting on sockets and the browser); 0 runs them in this process.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
if [ ! -x /usr/bin/chromium ]; then
  # Browser tests drive Debian's chromium; Playwright's own browser download is never used.
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
processes="${FEDISUPPORT_TEST_PROCESSES:-3}"
if [ "$processes" = 0 ]; then
  exec .venv/bin/pytest "$@"
fi
exec .venv/bin/pytest -n "$processes" "$@"
