"""`igflow schedule ...` commands, through the Typer app directly."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from igflow.cli.schedule import schedule_app

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(schedule_app, list(args))
    return result.exit_code, result.output


def test_generate_greedy_solve_evaluate(tmp_path: Path) -> None:
    inst, greedy, solved = tmp_path / "i.json", tmp_path / "g.json", tmp_path / "s.json"
    code, out = _run(
        "generate", "--seed", "4", "--load", "0.9", "--sites", "2", "--days", "7", "-o", str(inst)
    )
    assert code == 0, out
    assert json.loads(inst.read_text())["format"] == "igflow.schedule-instance/1"
    code, out = _run("greedy", str(inst), "-o", str(greedy))
    assert code == 0, out
    code, out = _run(
        "solve", str(inst), "-o", str(solved), "--time-limit", "20", "--work-limit", "0.5", "--seed", "1"
    )
    assert code == 0, out
    doc = json.loads(solved.read_text())
    assert doc["format"] == "igflow.schedule/1"
    assert doc["stats"]["solver"] == "cp-sat"
    n = len(json.loads(inst.read_text())["sessions"])
    assert len(doc["assignments"]) + len(doc["unscheduled"]) == n
    for path in (greedy, solved):
        result = runner.invoke(schedule_app, ["evaluate", str(inst), str(path)])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["valid"] is True and report["violations"] == []
        assert set(report["figures"]) >= {
            "weighted_scheduled",
            "target_distance_days",
            "preference_misses",
            "peak_load",
            "minutes_scheduled",
            "minutes_bound",
            "ratio",
        }


def test_evaluate_exits_1_on_violation(tmp_path: Path) -> None:
    inst, sched = tmp_path / "i.json", tmp_path / "g.json"
    assert (
        _run("generate", "--seed", "1", "--load", "0.5", "--sites", "1", "--days", "5", "-o", str(inst))[0]
        == 0
    )
    assert _run("greedy", str(inst), "-o", str(sched))[0] == 0
    doc = json.loads(sched.read_text())
    doc["assignments"][0]["start"] = "03:00"  # before opening
    sched.write_text(json.dumps(doc))
    result = runner.invoke(schedule_app, ["evaluate", str(inst), str(sched)])
    assert result.exit_code == 1
    codes = {v["code"] for v in json.loads(result.stdout)["violations"]}
    assert "C2-BEFORE-OPEN" in codes


def test_invalid_documents_exit_2_naming_the_field(tmp_path: Path) -> None:
    inst = tmp_path / "i.json"
    assert (
        _run("generate", "--seed", "1", "--load", "0.5", "--sites", "1", "--days", "5", "-o", str(inst))[0]
        == 0
    )
    doc = json.loads(inst.read_text())
    doc["sessions"][0]["duraton_min"] = 5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    code, out = _run("greedy", str(bad), "-o", str(tmp_path / "x.json"))
    assert code == 2
    assert "duraton_min" in out
    doc = json.loads(inst.read_text())
    doc["slot_minutes"] = 7
    bad.write_text(json.dumps(doc))
    code, out = _run("solve", str(bad), "-o", str(tmp_path / "x.json"))
    assert code == 2 and "slot_minutes" in out
    bad.write_text("{not json")
    assert _run("evaluate", str(bad), str(bad))[0] == 2
    sched = tmp_path / "s.json"
    sched.write_text(
        json.dumps({"format": "igflow.schedule/1", "assignments": [], "unscheduled": [], "chairs": 3})
    )
    code, out = _run("evaluate", str(inst), str(sched))
    assert code == 2 and "chairs" in out


def test_suggest(tmp_path: Path) -> None:
    inst, sched, course = tmp_path / "i.json", tmp_path / "g.json", tmp_path / "c.json"
    assert (
        _run("generate", "--seed", "2", "--load", "0.4", "--sites", "2", "--days", "14", "-o", str(inst))[0]
        == 0
    )
    assert _run("greedy", str(inst), "-o", str(sched))[0] == 0
    site = json.loads(inst.read_text())["sites"][0]["id"]
    course.write_text(
        json.dumps(
            [
                {
                    "id": "N1",
                    "patient": "PN",
                    "duration_min": 240,
                    "sites": [site],
                    "earliest": "2027-01-11",
                    "latest": "2027-01-15",
                    "target": "2027-01-12",
                    "priority": 3,
                }
            ]
        )
    )
    result = runner.invoke(schedule_app, ["suggest", str(inst), str(sched), str(course)])
    assert result.exit_code == 0, result.output
    options = json.loads(result.stdout)
    assert 1 <= len(options) <= 5
    assert options[0]["site"] == site
