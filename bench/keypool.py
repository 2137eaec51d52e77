"""A pool of RSA-2048 key pairs for the simulated remote actors, made once and kept in bench/.cache.

Making a key costs about 65 ms, so 2,000 distinct actors would spend two minutes on keys at
every run; the pool is generated once (on every core) and reused. Every actor still has a key
of its own, so the server parses and caches as many distinct public keys as it would in life.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fedisupport.activitypub.signatures import generate_keypair  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache" / "keys.json"


def _make(_: int) -> tuple[str, str]:
    return generate_keypair()


def load_keys(n: int) -> list[tuple[str, str]]:
    """At least n (private PEM, public PEM) pairs; generates and stores the missing ones."""
    keys: list[tuple[str, str]] = []
    if CACHE.exists():
        keys = [tuple(k) for k in json.loads(CACHE.read_text())]
    if len(keys) < n:
        missing = n - len(keys)
        print(f"[keys] generating {missing} RSA-2048 keys once (cached in {CACHE}) ...", file=sys.stderr, flush=True)
        with multiprocessing.get_context("spawn").Pool(os.cpu_count() or 2) as pool:
            keys += pool.map(_make, range(missing), chunksize=16)
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        tmp = CACHE.with_suffix(".tmp")
        tmp.write_text(json.dumps(keys))
        tmp.replace(CACHE)
    return keys[:n]


if __name__ == "__main__":
    print(len(load_keys(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)), "keys ready")
