#!/usr/bin/env bash
# Every benchmark once, short versions by default (about 25-30 minutes on a busy 2-core machine);
# FULL=1 runs the sizes of issue 7 (hours: the full replay alone takes most of them).
# Output goes to the terminal and to bench/results/run-<time>.log.
#   bench/run_all.sh            # short
#   FULL=1 bench/run_all.sh     # full sizes
#   SKIP_PG=1 bench/run_all.sh  # without the PostgreSQL run
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "no .venv: python3 -m venv .venv && .venv/bin/pip install -e ." >&2; exit 1; }
$PY -c "import aiohttp, psutil" 2>/dev/null || .venv/bin/pip install -q aiohttp psutil py-spy
mkdir -p bench/results
LOG="bench/results/run-$(date +%Y%m%d-%H%M%S).log"
exec > >(tee "$LOG") 2>&1
echo "machine: $(nproc) cores; $(free -h | awk '/Mem:/ {print $2}') RAM; $($PY --version); $(uptime)"
echo "fedisupport at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- fedisupport || echo ' + uncommitted changes')"
$PY bench/keypool.py 3000
if [ "${FULL:-0}" = 1 ]; then
  $PY bench/ingest.py --duration 300
  $PY bench/ingest.py --rate 1000 --duration 120
  [ "${SKIP_PG:-0}" = 1 ] || $PY bench/ingest.py --db postgres --duration 300
  $PY bench/first_contact.py
  $PY bench/fanout.py --threads 10
  $PY bench/reading.py --ingest-rate 500
  $PY bench/replay.py
else
  SMALL="--hosts 20 --actors-per-host 25 --budget-rate 2000 --drain-timeout 120"
  $PY bench/ingest.py --duration 30 $SMALL
  $PY bench/ingest.py --rate 1000 --duration 30 $SMALL
  [ "${SKIP_PG:-0}" = 1 ] || $PY bench/ingest.py --db postgres --duration 30 $SMALL
  $PY bench/first_contact.py
  $PY bench/fanout.py --threads 4
  $PY bench/reading.py --replies 100000 --likes 400000 --requests 100 --ingest-rate 300
  $PY bench/replay.py --replies 2000 --likes 8000
fi
echo "log: $LOG"
