"""Summarise py-spy raw (collapsed) profiles: where the server's CPU goes.

    .venv/bin/python bench/profile_summary.py bench/results/ingest-sqlite-max-*.txt [--top 25] [--group]

Prints the top functions by own samples ("self") and by samples anywhere on the stack
("inclusive"), as shares of all samples; `--group` folds them into subsystems (signatures,
SQLAlchemy, aiosqlite/sqlite3, asyncpg, starlette/uvicorn, json, httpx, fedisupport code).
"""
from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

GROUPS = [
    ("RSA sign/verify (cryptography)", ("cryptography", "signatures.py:_rsa_sign", "verify_signature")),
    ("SQLAlchemy ORM/Core", ("sqlalchemy/",)),
    ("sqlite3 / aiosqlite", ("aiosqlite", "sqlite3")),
    ("asyncpg", ("asyncpg",)),
    ("uvicorn / h11 / httptools", ("uvicorn", "h11", "httptools")),
    ("starlette", ("starlette",)),
    ("httpx / httpcore (outgoing)", ("httpx", "httpcore")),
    ("jinja2 templates", ("jinja2",)),
    ("json", ("json/",)),
    ("asyncio / uvloop", ("asyncio", "uvloop")),
]


def frames(line: str) -> tuple[list[str], int]:
    stack, _, count = line.rstrip().rpartition(" ")
    return stack.split(";"), int(count)


def short(frame: str) -> str:
    m = re.match(r"(.*) \((.*):(\d+)\)", frame)
    if not m:
        return frame
    func, path, _ = m.groups()
    parts = path.split("/")
    for anchor in ("fedisupport", "sqlalchemy", "starlette", "uvicorn", "aiosqlite", "asyncpg", "httpx", "httpcore",
                   "cryptography", "jinja2", "asyncio", "json", "h11"):
        if anchor in parts:
            path = "/".join(parts[parts.index(anchor):])
            break
    else:
        path = parts[-1]
    return f"{func} ({path})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--group", action="store_true")
    args = parser.parse_args()
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    total = 0
    for path in args.files:
        for line in path.read_text(errors="replace").splitlines():
            if not line.strip():
                continue
            stack, count = frames(line)
            # drop the thread/process label py-spy puts first
            stack = [f for f in stack if "(" in f]
            if not stack:
                continue
            total += count
            own[short(stack[-1])] += count
            for f in {short(f) for f in stack}:
                incl[f] += count
            leaf_path = stack[-1]
            for name, needles in GROUPS:
                if any(n in leaf_path for n in needles):
                    groups[name] += count
                    break
            else:
                groups["fedisupport" if "fedisupport/" in leaf_path else "other"] += count
    print(f"{total} samples from {len(args.files)} file(s)")
    if args.group:
        print("\nby subsystem (leaf frame):")
        for name, n in groups.most_common():
            print(f"  {100 * n / total:5.1f}%  {name}")
    print(f"\ntop {args.top} by own samples:")
    for name, n in own.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {name}")
    print(f"\ntop {args.top} by inclusive samples:")
    for name, n in incl.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
