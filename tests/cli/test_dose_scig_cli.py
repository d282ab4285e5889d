"""`igflow dose` for subcutaneous products (docs/dose-scig.md): the same exit codes as the IV contract."""

from __future__ import annotations

import json

from tests.cli.test_dose_cli import BASE, app, runner

SC = [
    "dose",
    "--product",
    "cuvitru",
    "--weight-kg",
    "70",
    "--age-years",
    "40",
    "--previous-iv-dose-g",
    "30",
    "--iv-interval-weeks",
    "4",
    "--interval-days",
    "7",
]


def test_an_sc_plan_exit_0_with_its_keys() -> None:
    result = runner.invoke(app, [*SC, "--indication", "pid", "--phase", "maintenance", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # 30 g / 4 weeks x 1.30 = 9.75 g a week; 10 g in 50 mL; 1 site at 20 mL/h (first infusions): 150 min
    assert data["route"] == "sc" and data["frequency"] == "weekly" and data["interval_days"] == 7
    assert (data["weekly_dose_g"], data["dispensed_g"], data["volume_ml"]) == (9.75, 10.0, 50.0)
    assert (data["sites"], data["ml_per_site"], data["rate_ml_per_h_per_site"]) == (1, 50.0, 20.0)
    assert data["total_rate_ml_per_h"] == 20 and data["duration_min"] == 150
    assert data["vials"] == [{"size_g": 8, "count": 1}, {"size_g": 2, "count": 1}]
    assert data["alerts"] and data["sources"]
    later = json.loads(runner.invoke(app, [*SC, "--infusion-number", "3", "--json"]).stdout)
    assert later["rate_ml_per_h_per_site"] == 60 and later["duration_min"] == 50


def test_hyqvia_ramp_up_and_hard_stops_exit_3() -> None:
    args = [*SC[:2], "hyqvia", *SC[3:-2], "--json"]  # no --interval-days: HyQvia keeps the IV interval
    result = runner.invoke(app, args)
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    assert [s["week"] for s in data["ramp_up"]] == [1, 2, 4, 7] and data["interval_days"] == 28
    assert "rate_not_in_catalog" in [a["code"] for a in data["alerts"]]
    sites = runner.invoke(app, [*SC[:2], "hizentra", *SC[3:8], "60", *SC[9:], "--json"])
    assert sites.exit_code == 3
    assert json.loads(sites.stdout)["suggested_interval_days"] == 4


def test_invalid_sc_input_exit_2_names_the_option() -> None:
    for args, option in (
        ([*SC[:7], *SC[9:], "--json"], "--previous-iv-dose-g"),
        ([*SC[:-1], "40", "--json"], "--interval-days"),
        ([*SC[:-2], "--json"], "--interval-days"),
        ([*SC, "--risk", "smoker", "--json"], "--risk"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and result.stdout == "", (args, result.output)
        assert option in result.stderr, result.stderr
    iv_only = runner.invoke(app, [*SC, "--route", "sc", "--product", "privigen", "--json"])
    assert iv_only.exit_code == 2 and "--product" in iv_only.stderr and "intravenously" in iv_only.stderr


def test_the_iv_contract_is_unchanged() -> None:
    result = runner.invoke(app, [*BASE, "--json"])
    assert result.exit_code == 0 and "route" not in json.loads(result.stdout)
    # an IV plan still needs the IV options, and refuses the SC ones
    missing = runner.invoke(app, ["dose", "--product", "privigen", "--weight-kg", "70", "--age-years", "40"])
    assert missing.exit_code == 2 and "--indication" in missing.stderr and missing.stdout == ""
    sc_option = runner.invoke(app, [*BASE, "--interval-days", "7", "--json"])
    assert sc_option.exit_code == 2 and "--interval-days" in sc_option.stderr
    # Gammagard Liquid is licensed both ways: --route sc plans its subcutaneous use
    both = runner.invoke(app, [*SC[:2], "gammagard-liquid", *SC[3:], "--route", "sc", "--json"])
    assert both.exit_code == 0 and json.loads(both.stdout)["route"] == "sc"


def test_human_output_for_an_sc_plan() -> None:
    result = runner.invoke(app, SC)
    assert result.exit_code == 0 and "subcutaneous" in result.stdout and "site" in result.stdout
