"""Backups hold every patient's data: `igflow backup` creates them readable by their owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from igflow.cli import app
from igflow.config import get_settings


def test_backup_is_created_with_mode_0600_even_over_a_readable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IGFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'live.db'}")
    get_settings.cache_clear()
    old_umask = os.umask(0o022)  # the usual umask: new files world-readable
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        fresh = tmp_path / "fresh.db"
        result = runner.invoke(app, ["backup", "-o", str(fresh)])
        assert result.exit_code == 0, result.output
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
        existing = tmp_path / "existing.db"
        existing.write_bytes(b"")
        existing.chmod(0o644)
        assert runner.invoke(app, ["backup", "-o", str(existing)]).exit_code == 0
        assert stat.S_IMODE(existing.stat().st_mode) == 0o600
        assert "0600" in runner.invoke(app, ["backup", "--help"]).output
    finally:
        os.umask(old_umask)
        get_settings.cache_clear()
