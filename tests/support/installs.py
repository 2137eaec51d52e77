"""Installing third-party test tools (npm packages, a separate venv) once per machine.

Each install goes into a git-ignored folder next to its lock file and is redone only when the
lock file changes (a stamp in the folder records which one it came from). A failed install fails
the test that needs it, never skips it: these tools are part of what CI checks. Several pytest
processes (pytest-xdist) may ask at once, so each install holds an exclusive file lock.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

INSTALL_TIMEOUT = 900  # seconds; a cold npm or pip cache on a slow day


def sha256_of(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run_install(what: str, argv: list[str], cwd: Path) -> float:
    """Run an install command; fail the test (with its output) if it fails or hangs."""
    started = time.monotonic()
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{what}: `{' '.join(argv)}` did not finish in {INSTALL_TIMEOUT}s\n{exc.stdout}\n{exc.stderr}")
    if done.returncode != 0:
        pytest.fail(f"{what}: `{' '.join(argv)}` exited {done.returncode}\n{done.stdout[-5000:]}\n{done.stderr[-5000:]}")
    return time.monotonic() - started


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def installed_once(what: str, stamp: Path, inputs: list[Path], expected: Path, install: Callable[[], None]) -> Path:
    """`expected` after `install()` has run for exactly these `inputs` (by content)."""
    wanted = sha256_of(*inputs)
    folder = stamp.parent
    with _exclusive(folder.with_name(folder.name + ".install-lock")):
        if expected.exists() and stamp.exists() and stamp.read_text() == wanted:
            return expected
        started = time.monotonic()
        install()
        if not expected.exists():
            pytest.fail(f"{what}: the install succeeded but {expected} is missing")
        stamp.write_text(wanted)
        print(f"\n[tests] {what} took {time.monotonic() - started:.1f}s", file=sys.stderr)
        return expected


def npm_ci(what: str, package_dir: Path, expected: Path) -> Path:
    """`npm ci` in package_dir (exactly its package-lock.json); returns `expected` once it exists."""
    def install() -> None:
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(f"npm is needed for {what} (Debian: apt-get install npm)")
        run_install(what, [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], package_dir)

    modules = package_dir / "node_modules"
    return installed_once(what, modules / ".fedisupport-lock-sha256",
                          [package_dir / "package.json", package_dir / "package-lock.json"], expected, install)
