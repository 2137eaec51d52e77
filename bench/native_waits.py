"""Where a server's threads wait, from a py-spy profile taken with `--native --idle`.

    BENCH_PYSPY_ARGS="--native --idle" .venv/bin/python bench/first_contact.py --profile
    .venv/bin/python bench/native_waits.py bench/results/first-contact-sqlite-*.txt

Counts samples whose innermost frames are SQLite's busy handler (a connection sleeping until
another releases the write lock), the event loop waiting for I/O, aiosqlite threads idle, and
the rest; shares are of thread-samples, so 50 % with 12 threads means ~6 threads on average.
"""
from __future__ import annotations

import sys
from collections import Counter

KINDS = [
    ("SQLite busy handler: sleeping for the write lock", ("sqlite3InvokeBusyHandler",)),
    ("SQLite working (sqlite3_step etc.)", ("sqlite3VdbeExec", "sqlite3_step", "sqlite3BtreeCommit", "fdatasync")),
    ("aiosqlite thread idle (queue.get)", ("_queue_SimpleQueue_get_impl",)),
    ("thread waiting for a lock / GIL", ("PyThread_acquire_lock_timed", "take_gil")),
    ("event loop waiting for I/O (epoll)", ("epoll_pwait", "epoll_wait")),
]


def main() -> None:
    counts: Counter[str] = Counter()
    total = 0
    for path in sys.argv[1:]:
        for line in open(path, errors="replace"):
            stack, _, n = line.rstrip().rpartition(" ")
            if not stack:
                continue
            n = int(n)
            total += n
            text = stack
            for name, needles in KINDS:
                if any(x in text for x in needles):
                    counts[name] += n
                    break
            else:
                counts["running Python / other"] += n
    print(f"{total} thread-samples")
    for name, n in counts.most_common():
        print(f"  {100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
