"""The command line as an admin uses it: real processes, real databases."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.databases import using_postgres

COMMANDS = [[], ["init"], ["serve"], ["migrate"], ["worker"], ["admin"], ["admin", "create-user"],
            ["admin", "create-community"], ["admin", "make-moderator"], ["admin", "list-communities"],
            ["admin", "deliveries"], ["admin", "reset-link"]]


def run(args: list[str], data_dir: Path, env: dict[str, str] | None = None, input: str | None = None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISUPPORT_") and k != "DATABASE_URL"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "fedisupport", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, env=full_env, input=input, timeout=120)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "main")
def test_every_command_has_help(tmp_path, command):
    result = run([*command, "--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    # The first line of help says what the command is for.
    assert len(result.stdout.split("\n\n")[1].strip()) > 10


@pytest.fixture
async def db_env(databases, tmp_path) -> dict[str, str]:
    """A DATABASE_URL for a fresh, unmigrated database on the database kind under test."""
    if using_postgres():
        url = await databases.anew_url(tmp_path)
        # A migrated template was cloned; the CLI must work on it too (init is idempotent).
        return {"DATABASE_URL": url}
    return {}


def test_init_then_admin_commands(tmp_path, db_env):
    data = tmp_path / "data"
    init = run(["init", "--domain", "support.example.org", "--site-name", "Support Example",
                "--admin-username", "ada", "--admin-password", "a long enough password"], data, db_env)
    assert init.returncode == 0, init.stderr
    assert "Settings written to" in init.stdout and "Admin account: ada" in init.stdout
    assert "shown once" not in init.stdout  # we chose the password, so nothing to show
    assert (data / "fedisupport.toml").exists()

    made = run(["admin", "create-user", "sam", "--email", "sam@example.org"], data, db_env)
    assert made.returncode == 0, made.stderr
    assert "Password (shown once):" in made.stdout

    community = run(["admin", "create-community", "hope", "--title", "Hope", "--owner", "ada", "--languages", "en es"], data, db_env)
    assert community.returncode == 0, community.stderr
    assert "@hope@support.example.org" in community.stdout

    taken = run(["admin", "create-user", "hope", "--password", "another long password"], data, db_env)
    assert taken.returncode == 1
    assert "is taken" in taken.stderr and "Traceback" not in taken.stderr

    mod = run(["admin", "make-moderator", "hope", "sam"], data, db_env)
    assert mod.returncode == 0, mod.stderr
    # The same appointment as on the web: a second one is refused, and the modlog shows the first.
    twice = run(["admin", "make-moderator", "hope", "sam"], data, db_env)
    assert twice.returncode == 1 and "moderator here already" in twice.stderr and "Traceback" not in twice.stderr

    missing = run(["admin", "make-moderator", "nowhere", "sam"], data, db_env)
    assert missing.returncode == 1 and "no community named 'nowhere'" in missing.stderr

    reset = run(["admin", "reset-link", "sam"], data, db_env)
    assert reset.returncode == 0, reset.stderr
    assert "https://support.example.org/reset/" in reset.stdout and "works once, for 24 hours" in reset.stdout
    nobody = run(["admin", "reset-link", "nobody"], data, db_env)
    assert nobody.returncode == 1 and "no account named nobody" in nobody.stderr

    listed = run(["admin", "list-communities"], data, db_env)
    assert listed.returncode == 0
    assert "hope" in listed.stdout and "Hope" in listed.stdout

    again = run(["init", "--domain", "support.example.org", "--admin-username", "ada"], data, db_env)
    assert again.returncode == 0, again.stderr
    assert "Admin account" not in again.stdout  # init is safe to repeat


def test_missing_settings_give_one_clear_line(tmp_path):
    result = run(["admin", "list-communities"], tmp_path / "empty")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "run `fedisupport init --domain" in result.stderr


def test_wrong_setting_gives_one_clear_line(tmp_path):
    result = run(["migrate"], tmp_path, {"FEDISUPPORT_DOMAIN": "a.org", "FEDISUPPORT_PORT": "x"})
    assert result.returncode == 2
    assert result.stderr.strip() == "fedisupport: port must be a whole number, not 'x'"


@pytest.mark.skipif(using_postgres(), reason="uses the embedded SQLite default")
def test_serve_refuses_an_unmigrated_database(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "fedisupport.toml").write_text('[fedisupport]\ndomain = "a.example.org"\n')
    result = run(["serve", "--port", "8999"], data)
    assert result.returncode == 2
    assert "run `fedisupport migrate`" in result.stderr and "Traceback" not in result.stderr
    migrated = run(["migrate"], data)
    assert migrated.returncode == 0 and "Database is at migration" in migrated.stdout
