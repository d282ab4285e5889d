"""`igflow dose` and `igflow catalog check` through Typer's CliRunner (shared/contracts/dose.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import typer
import yaml
from typer.testing import CliRunner

from igflow.catalog.loader import default_data_dir
from igflow.cli.dose import catalog_app, dose

app = typer.Typer()
app.command("dose")(dose)
app.add_typer(catalog_app, name="catalog")
runner = CliRunner()

BASE = [
    "dose",
    "--indication",
    "cidp",
    "--phase",
    "induction",
    "--weight-kg",
    "110",
    "--height-cm",
    "165",
    "--sex",
    "female",
    "--age-years",
    "50",
    "--product",
    "privigen",
]


def test_plan_exit_0_with_contract_json() -> None:
    result = runner.invoke(app, [*BASE, "--policy", "adjusted-bmi30", "--first-infusion", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dosing_weight_kg"] == 78.1 and data["prescribed_g"] == 156.2
    assert data["days"][0]["steps"][0] == {
        "start_min": 0,
        "minutes": 30,
        "rate_mg_per_kg_min": 0.5,
        "rate_ml_per_h": 23.4,
        "volume_ml": 11.7,
    }
    assert data["days"][0]["observation_min"] == 60


def test_hard_stop_exit_3_still_prints_json() -> None:
    result = runner.invoke(app, [*BASE, "--risk", "renal", "--json"])
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert "risk_rate_cap_unknown" in [a["code"] for a in data["alerts"]]


def test_not_recommended_needs_override() -> None:
    args = [*BASE[:2], "ms", *BASE[3:], "--json"]
    assert runner.invoke(app, args).exit_code == 3
    args = [*BASE[:2], "aiha", "--phase", "acute", *BASE[5:], "--json"]
    assert runner.invoke(app, args).exit_code == 3
    result = runner.invoke(app, [*args, "--override-reason", "life-threatening haemolysis"])
    assert result.exit_code == 0
    assert "not_recommended_overridden" in result.stdout


def test_risk_list_and_flags() -> None:
    result = runner.invoke(
        app,
        [
            *BASE[:-1],
            "panzyga",
            "--risk",
            "thrombosis,cardiac",
            "--pregnant",
            "--iga-deficient-with-antibodies",
            "--days",
            "4",
            "--dose-g-per-kg",
            "2",
            "--json",
        ],
    )
    assert result.exit_code == 3
    codes = [a["code"] for a in json.loads(result.stdout)["alerts"]]
    assert {"iga_deficiency_with_antibodies", "thrombosis_risk", "heart_failure_volume", "pregnancy"} <= set(
        codes
    )


def test_invalid_input_exit_2_nothing_on_stdout() -> None:
    result = runner.invoke(app, [*BASE[:-1], "intragam", "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--product" in result.stderr and "privigen" in result.stderr
    result = runner.invoke(app, [*BASE, "--risk", "smoker", "--json"])
    assert result.exit_code == 2 and result.stdout == "" and "renal" in result.stderr
    child_90_kg = [a if a != "50" else "3" for a in BASE]  # 110 kg at age 3: implausible
    result = runner.invoke(app, [*child_90_kg, "--json"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "--weight-kg" in result.stderr and "5-60 kg" in result.stderr


def test_missing_option_exit_2() -> None:
    result = runner.invoke(app, ["dose", "--indication", "cidp", "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""


def test_human_output() -> None:
    result = runner.invoke(app, BASE)
    assert result.exit_code == 0
    assert "Day 1" in result.stdout


def test_catalog_check_ok() -> None:
    result = runner.invoke(app, ["catalog", "check"])
    assert result.exit_code == 0, result.output
    assert "catalog OK" in result.stdout and "privigen" in result.stdout and "cidp" in result.stdout


def test_catalog_check_fails_on_bad_data(tmp_path: Path) -> None:
    target = tmp_path / "data"
    target.mkdir()
    for path in default_data_dir().glob("*.yaml"):
        (target / path.name).write_text(path.read_text())
    data = yaml.safe_load((target / "products.yaml").read_text())
    data["products"][0]["unexpected"] = 1
    (target / "products.yaml").write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["catalog", "check", "--data-dir", str(target)])
    assert result.exit_code == 1
    assert "unexpected" in result.stderr


def test_python_m_entry_point() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "igflow.cli.dose", *BASE, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["product"] == "privigen"
