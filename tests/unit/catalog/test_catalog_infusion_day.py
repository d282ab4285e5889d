"""Infusion-day catalog data (infusion_day.yaml) and per-product room-temperature allowances."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from igflow.catalog import CatalogError, load_catalog, load_catalog_from
from igflow.catalog.loader import default_data_dir
from igflow.catalog.models import REACTION_ACTIONS


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(default_data_dir(), target)
    return target


def _edit(path: Path, change: Callable[[Any], object]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_reaction_scale_has_ctcae_grades_1_to_5() -> None:
    scale = load_catalog().infusion_day.reaction_scale
    assert [g.grade for g in scale.grades] == [1, 2, 3, 4, 5]
    assert all(g.definition for g in scale.grades)
    assert "CTCAE" in scale.name and scale.source


def test_protocol_maps_every_grade_and_stops_from_3() -> None:
    protocol = load_catalog().infusion_day.reaction_protocol
    assert protocol.needs_pt_signoff
    assert protocol.stop_infusion_from_grade.value == 3
    for grade in (1, 2, 3, 4, 5):
        rule = protocol.rule_for(grade)
        assert rule.source and rule.recommended_action in REACTION_ACTIONS
        assert (rule.recommended_action == "stop_and_escalate") == (grade >= 3)
    assert set(protocol.notify_queues) == {"pharmacist", "prescriber"}
    with pytest.raises(LookupError):
        protocol.rule_for(6)


def test_symptoms_include_the_issue_checklist() -> None:
    ids = {s.id for s in load_catalog().infusion_day.symptoms}
    wanted = {"headache", "chills", "flushing", "nausea", "back-pain", "chest-tightness", "dyspnoea"}
    assert wanted | {"rash", "hypotension", "fever"} <= ids


def test_unsourced_values_are_null_with_notes() -> None:
    day = load_catalog().infusion_day
    assert day.weight_check.max_change_percent.value is None
    assert day.weight_check.max_change_percent.note
    assert day.vital_limits.site_configurable and day.vitals_schedule.site_configurable
    for limit in day.vital_limits.limits.values():
        for fact in (limit.low, limit.high):
            if fact is None:
                continue
            assert fact.source if fact.known else fact.note


def test_follow_up_window_and_checklist() -> None:
    follow_up = load_catalog().infusion_day.follow_up
    assert (follow_up.window_start_h.value, follow_up.window_end_h.value) == (24, 72)
    ids = {item.id for item in follow_up.checklist}
    assert {"late-headache", "aseptic-meningitis", "thrombosis", "renal"} <= ids


def test_baseline_rates_for_reactions_panel() -> None:
    rates = {r.id: r for r in load_catalog().infusion_day.baseline_rates}
    assert (rates["headache"].low_percent, rates["headache"].high_percent) == (10, 15)
    assert rates["moderate-or-severe"].high_percent == 5
    assert rates["serious"].high_percent == 0.5
    assert all(r.source for r in rates.values())


def test_every_product_records_a_room_temperature_allowance_or_why_not() -> None:
    products = load_catalog().products
    for product in products.values():
        fact = product.room_temperature
        assert fact.source if fact.known else fact.note, product.id
    panzyga = products["panzyga"].room_temperature.value
    assert panzyga is not None and (panzyga.months, panzyga.max_temp_c) == (12, 25)
    octagam = products["octagam-10"].room_temperature.value
    assert octagam is not None and octagam.months == 9


def test_stop_grade_rule_must_only_allow_stop(data_copy: Path) -> None:
    _edit(
        data_copy / "infusion_day.yaml",
        lambda d: d["reaction_protocol"]["rules"][2].update(
            {"allowed_actions": ["continue", "stop_and_escalate"]}
        ),
    )
    with pytest.raises(CatalogError, match="only stop_and_escalate"):
        load_catalog_from(data_copy)


def test_missing_grade_rule_rejected(data_copy: Path) -> None:
    _edit(data_copy / "infusion_day.yaml", lambda d: d["reaction_protocol"]["rules"].pop())
    with pytest.raises(CatalogError, match="one rule per grade"):
        load_catalog_from(data_copy)


def test_recommended_action_must_be_allowed(data_copy: Path) -> None:
    _edit(
        data_copy / "infusion_day.yaml",
        lambda d: d["reaction_protocol"]["rules"][0].update(
            {"recommended_action": "pause_then_resume_lower"}
        ),
    )
    with pytest.raises(CatalogError, match="allowed_actions"):
        load_catalog_from(data_copy)


def test_inverted_limits_and_window_rejected(data_copy: Path) -> None:
    def change(d: Any) -> None:
        d["vital_limits"]["limits"]["heart_rate_bpm"]["low"]["value"] = 200
        d["follow_up"]["window_start_h"]["value"] = 80
        d["baseline_rates"][0]["low_percent"] = 50

    _edit(data_copy / "infusion_day.yaml", change)
    with pytest.raises(CatalogError) as info:
        load_catalog_from(data_copy)
    text = str(info.value)
    assert "heart_rate_bpm" in text and "window_start_h" in text and "low_percent" in text


def test_unknown_weight_threshold_needs_note(data_copy: Path) -> None:
    _edit(data_copy / "infusion_day.yaml", lambda d: d["weight_check"]["max_change_percent"].pop("note"))
    with pytest.raises(CatalogError, match="note"):
        load_catalog_from(data_copy)


def test_missing_room_temperature_rejected(data_copy: Path) -> None:
    _edit(data_copy / "products.yaml", lambda d: d["products"][0].pop("room_temperature"))
    with pytest.raises(CatalogError, match="room_temperature"):
        load_catalog_from(data_copy)
