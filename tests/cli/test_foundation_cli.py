"""The igflow command line as an operator uses it: migrate, demo, users, backup and restore."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from igflow.cli import app
from igflow.config import get_settings


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("IGFLOW_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def test_upgrade_demo_users_backup_restore(
    cli_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    demo = runner.invoke(app, ["demo", "--seed", "3", "--patients", "20", "--orders", "5"])
    assert demo.exit_code == 0, demo.output
    assert "demo-pharmacist-2026" in demo.output
    again = runner.invoke(app, ["demo", "--seed", "3", "--patients", "20", "--orders", "5"])
    assert again.exit_code == 0 and "already present" in again.output

    monkeypatch.setenv("IGFLOW_NEW_PASSWORD", "a-long-enough-password")
    added = runner.invoke(
        app, ["user", "add", "carol", "--name", "Carol Chen", "--roles", "nurse,pharmacist"]
    )
    assert added.exit_code == 0, added.output
    duplicate = runner.invoke(app, ["user", "add", "carol", "--name", "Carol Chen", "--roles", "nurse"])
    assert duplicate.exit_code == 2 and "already taken" in duplicate.output
    bad_role = runner.invoke(app, ["user", "add", "dave", "--name", "Dave", "--roles", "wizard"])
    assert bad_role.exit_code == 2 and "unknown role" in bad_role.output
    monkeypatch.setenv("IGFLOW_NEW_PASSWORD", "short")
    weak = runner.invoke(app, ["user", "reset-password", "carol"])
    assert weak.exit_code == 2 and "12 characters" in weak.output
    assert runner.invoke(app, ["user", "disable", "carol"]).exit_code == 0

    backup = tmp_path / "copy.db"
    assert runner.invoke(app, ["backup", "-o", str(backup)]).exit_code == 0
    with sqlite3.connect(cli_db) as connection:
        connection.execute("DELETE FROM referral")
    restored = runner.invoke(app, ["restore", str(backup), "--yes"])
    assert restored.exit_code == 0, restored.output
    with sqlite3.connect(cli_db) as connection:
        assert connection.execute("SELECT count(*) FROM referral").fetchone()[0] == 20
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database")
    refused = runner.invoke(app, ["restore", str(junk), "--yes"])
    assert refused.exit_code == 2 and "nothing was changed" in refused.output


def test_user_add_in_a_fresh_process(tmp_path: Path) -> None:
    """Each command must work on its own, not only after another command imported every table."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "IGFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}",
        "IGFLOW_NEW_PASSWORD": "a-long-enough-password",
    }
    igflow = [sys.executable, "-m", "igflow.cli"]
    assert (
        subprocess.run([*igflow, "db", "upgrade"], env=env, capture_output=True, check=False).returncode == 0
    )
    added = subprocess.run(
        [*igflow, "user", "add", "erin", "--name", "Erin Example", "--roles", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    verify = subprocess.run(
        [*igflow, "audit", "verify"], env=env, capture_output=True, text=True, check=False
    )
    assert verify.returncode == 0 and "rows checked" in verify.stdout
