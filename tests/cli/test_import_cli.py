"""`igflow import ...`: the Typer commands with CliRunner, against the test database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from igflow.cli.foundation import app
from igflow.config import get_settings
from igflow.directory.models import Prescriber
from igflow.patients.models import Patient
from igflow.security.models import AuditEvent
from tests.conftest import World

runner = CliRunner()
DOCS = Path(__file__).resolve().parents[2] / "docs" / "imports"


@pytest.fixture
def cli_world(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("IGFLOW_DATABASE_URL", world.db.url)
    get_settings.cache_clear()
    yield world
    get_settings.cache_clear()


def _patients(world: World) -> int:
    with world.db.session() as session:
        return session.execute(select(func.count()).select_from(Patient)).scalar_one()


def test_dry_run_then_import_of_the_example_patients(cli_world: World) -> None:
    before = _patients(cli_world)
    result = runner.invoke(
        app, ["import", "patients", str(DOCS / "patients.csv"), "--as", "intake", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "Dry run: all 2 row(s) are good; nothing was written." in result.output
    assert _patients(cli_world) == before
    result = runner.invoke(app, ["import", "patients", str(DOCS / "patients.csv"), "--as", "intake"])
    assert result.exit_code == 0, result.output
    assert "Imported 2 row(s) in one transaction." in result.output
    assert _patients(cli_world) == before + 2
    with cli_world.db.session() as session:
        actor = session.execute(select(AuditEvent).where(AuditEvent.action == "import.run")).scalar_one()
        assert actor.actor == "intake" and actor.client_address and actor.client_address.startswith("cli:")


def test_bad_rows_are_all_listed_and_written_to_a_file(cli_world: World, tmp_path: Path) -> None:
    bad = tmp_path / "prescribers.csv"
    bad.write_text("name,npi\nDr A,12\n,1234567890\nDr C,9999999999\nDr D,12\n", encoding="utf-8")
    errors = tmp_path / "bad.csv"
    result = runner.invoke(
        app, ["import", "prescribers", str(bad), "--as", "intake", "--errors", str(errors)]
    )
    assert result.exit_code == 1, result.output
    assert "3 bad row(s) of 4: nothing was written" in result.output
    lines = errors.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "line,reason" and [line.split(",")[0] for line in lines[1:]] == ["2", "3", "5"]
    with cli_world.db.session() as session:
        assert session.execute(select(func.count()).select_from(Prescriber)).scalar_one() == 1


def test_the_user_must_exist_and_may_import_that_kind(cli_world: World) -> None:
    result = runner.invoke(app, ["import", "patients", str(DOCS / "patients.csv"), "--as", "nobody"])
    assert result.exit_code == 2 and "No active igflow user 'nobody'" in result.output
    result = runner.invoke(app, ["import", "patients", str(DOCS / "patients.csv"), "--as", "nurse"])
    assert result.exit_code == 2 and "adding or changing patients" in result.output


def test_a_bundle_from_the_command_line(cli_world: World) -> None:
    result = runner.invoke(
        app, ["import", "bundle", str(DOCS / "bundle.json"), "--as", "intake", "--dry-run"]
    )
    assert result.exit_code == 1  # no payer acme-health in this world: the coverage entry is refused
    assert "acme-health" in result.output and "Coverage" not in result.output.split("Reason")[0]
