"""Outcome measures catalog (outcomes.yaml): every indication listed, every measure defined, every
number sourced, and files that break those rules refused."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from igflow.catalog import CatalogError, Fact, load_catalog, load_catalog_from
from igflow.catalog.loader import default_data_dir
from igflow.catalog.models import ChangeThreshold, Measure, ResponseThreshold

OUTCOMES = load_catalog().outcomes


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(default_data_dir(), target)
    return target


def _edit(path: Path, change: Callable[[Any], object]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _entry(data: Any, indication: str) -> Any:
    return next(e for e in data["indications"] if e["indication"] == indication)


def _measure(data: Any, measure_id: str) -> Any:
    return next(m for m in data["measures"] if m["id"] == measure_id)


def _facts(measure: Measure) -> list[Fact[Any]]:
    facts: list[Fact[Any]] = [measure.direction, measure.scale_min, measure.scale_max]
    for part in measure.parts:
        facts += [part.scale_min, part.scale_max]
    return facts


def _changes(threshold: ResponseThreshold) -> list[ChangeThreshold]:
    return [c for c in (threshold.improvement, threshold.worsening) if c is not None]


def test_every_indication_has_an_entry_and_every_measure_exists() -> None:
    catalog = load_catalog()
    assert {e.indication for e in OUTCOMES.indications} == set(catalog.indications)
    defined = {m.id for m in OUTCOMES.measures}
    for entry in OUTCOMES.indications:
        assert set(entry.measure_ids) <= defined, entry.indication
        if entry.primary is not None:
            assert entry.primary in entry.measure_ids and entry.primary_reason
        else:
            assert entry.note, entry.indication
        if not entry.measures:
            assert entry.note, entry.indication


def test_the_issue_measures_are_held_for_their_indications() -> None:
    wanted = {
        "cidp": {"incat", "incat-adjusted", "i-rods", "mrc-sum", "grip-strength"},
        "mmn": {"incat", "incat-adjusted", "i-rods", "mrc-sum", "grip-strength"},
        "myasthenia-gravis": {"mg-adl", "mg-composite"},
        "dermatomyositis": {"tis", "mmt8"},
        "itp-adult": {"platelet-count"},
        "itp-child": {"platelet-count"},
        "pid": {"igg-trough", "infection-count"},
        "sid": {"igg-trough", "infection-count"},
        "gbs": {"gbs-disability"},
    }
    for indication, measures in wanted.items():
        assert measures <= set(OUTCOMES.for_indication(indication).measure_ids), indication


def test_every_number_has_a_source_and_every_unknown_a_note() -> None:
    for measure in OUTCOMES.measures:
        assert measure.source
        for fact in _facts(measure):
            assert fact.source if fact.known else fact.note, measure.id
        for excluded in measure.excluded_part_changes:
            assert excluded.source
    for entry in OUTCOMES.indications:
        for used in entry.measures:
            threshold = used.threshold
            for change in _changes(threshold):
                assert change.source, (entry.indication, used.measure)
            for level in threshold.levels:
                assert level.source, (entry.indication, used.measure)
            if threshold.iwg is not None:
                for fact in (
                    threshold.iwg.complete_response_min,
                    threshold.iwg.response_min,
                    threshold.iwg.response_min_fold_of_baseline,
                ):
                    assert fact.source if fact.known else fact.note
            if not threshold.sourced:
                assert threshold.note, (entry.indication, used.measure)
    rules = OUTCOMES.course_rules
    for fact in (rules.no_improvement_review_after_cycles, rules.review_interval_days):
        assert fact.source if fact.known else fact.note


def test_sourced_facts_are_as_the_references_state() -> None:
    cidp = OUTCOMES.for_indication("cidp")
    grip = cidp.threshold_for("grip-strength")
    assert grip.improvement is not None and (grip.improvement.value, grip.improvement.inclusive) == (8, False)
    incat = cidp.threshold_for("incat-adjusted")
    assert incat.improvement is not None and incat.improvement.value == 1 and incat.improvement.inclusive
    assert cidp.primary == "incat-adjusted"
    mgc = OUTCOMES.for_indication("myasthenia-gravis").threshold_for("mg-composite")
    assert mgc.improvement is not None and mgc.improvement.value == 3 and mgc.worsening is None
    adl = OUTCOMES.for_indication("myasthenia-gravis").threshold_for("mg-adl")
    assert adl.improvement is not None and adl.improvement.value == 3  # not the unconfirmed 2
    assert adl.note is not None and "NOT confirmed" in adl.note
    tis = OUTCOMES.for_indication("dermatomyositis").threshold_for("tis")
    assert [(lv.id, lv.min_value) for lv in tis.levels] == [("minimal", 20), ("moderate", 40), ("major", 60)]
    assert tis.population == "adult"
    iwg = OUTCOMES.for_indication("itp-adult").threshold_for("platelet-count").iwg
    assert iwg is not None
    assert (iwg.complete_response_min.value, iwg.response_min.value) == (100, 30)
    assert iwg.response_min_fold_of_baseline.value == 2
    assert OUTCOMES.measure("gbs-disability").scale_max.value == 6
    assert OUTCOMES.measure("mrc-sum").scale_max.value == 60


def test_unsourced_thresholds_are_unknown_not_guessed() -> None:
    for indication, measure in (
        ("pid", "igg-trough"),
        ("pid", "infection-count"),
        ("sid", "igg-trough"),
        ("gbs", "gbs-disability"),
        ("cidp", "i-rods"),
    ):
        threshold = OUTCOMES.for_indication(indication).threshold_for(measure)
        assert threshold.kind == "unknown" and threshold.note
    assert OUTCOMES.course_rules.review_interval_days.value is None
    assert OUTCOMES.for_indication("pid").primary is None


def test_a_number_without_source_is_refused(data_copy: Path) -> None:
    def drop_source(data: Any) -> None:
        threshold = _entry(data, "cidp")["measures"][0]["threshold"]
        del threshold["improvement"]["source"]

    _edit(data_copy / "outcomes.yaml", drop_source)
    with pytest.raises(CatalogError, match="source"):
        load_catalog_from(data_copy)


def test_a_scale_bound_without_source_is_refused(data_copy: Path) -> None:
    _edit(data_copy / "outcomes.yaml", lambda d: _measure(d, "mg-adl")["scale_max"].pop("source"))
    with pytest.raises(CatalogError, match="a known value needs a source"):
        load_catalog_from(data_copy)


def test_an_unknown_threshold_needs_a_note(data_copy: Path) -> None:
    _edit(
        data_copy / "outcomes.yaml",
        lambda d: _entry(d, "pid")["measures"][0]["threshold"].pop("note"),
    )
    with pytest.raises(CatalogError, match="note"):
        load_catalog_from(data_copy)


def test_a_missing_indication_entry_is_refused(data_copy: Path) -> None:
    def drop(data: Any) -> None:
        data["indications"] = [e for e in data["indications"] if e["indication"] != "kawasaki"]

    _edit(data_copy / "outcomes.yaml", drop)
    with pytest.raises(CatalogError, match="'kawasaki' has no entry"):
        load_catalog_from(data_copy)


def test_an_undefined_measure_or_primary_is_refused(data_copy: Path) -> None:
    def undefined(data: Any) -> None:
        _entry(data, "cidp")["measures"][0]["measure"] = "no-such-measure"
        _entry(data, "cidp")["primary"] = "no-such-measure"

    _edit(data_copy / "outcomes.yaml", undefined)
    with pytest.raises(CatalogError, match="no-such-measure"):
        load_catalog_from(data_copy)


def test_parts_must_add_up_to_the_scale(data_copy: Path) -> None:
    _edit(
        data_copy / "outcomes.yaml",
        lambda d: _measure(d, "incat-adjusted")["parts"][0]["scale_max"].update(value=6),
    )
    with pytest.raises(CatalogError, match="maxima must add up"):
        load_catalog_from(data_copy)


def test_levels_must_rise_and_lie_on_the_scale(data_copy: Path) -> None:
    _edit(
        data_copy / "outcomes.yaml",
        lambda d: _entry(d, "dermatomyositis")["measures"][0]["threshold"]["levels"][2].update(min_value=160),
    )
    with pytest.raises(CatalogError, match="outside the scale"):
        load_catalog_from(data_copy)

    def unordered(data: Any) -> None:
        _entry(data, "dermatomyositis")["measures"][0]["threshold"]["levels"][1]["min_value"] = 10

    shutil.copy(default_data_dir() / "outcomes.yaml", data_copy / "outcomes.yaml")
    _edit(data_copy / "outcomes.yaml", unordered)
    with pytest.raises(CatalogError, match="levels must rise"):
        load_catalog_from(data_copy)


def test_a_points_threshold_larger_than_the_scale_is_refused(data_copy: Path) -> None:
    _edit(
        data_copy / "outcomes.yaml",
        lambda d: _entry(d, "myasthenia-gravis")["measures"][1]["threshold"]["improvement"].update(value=30),
    )
    with pytest.raises(CatalogError, match="exceeds the scale"):
        load_catalog_from(data_copy)


def test_a_change_threshold_without_worsening_needs_a_note(data_copy: Path) -> None:
    _edit(
        data_copy / "outcomes.yaml",
        lambda d: _entry(d, "myasthenia-gravis")["measures"][0]["threshold"].pop("note"),
    )
    with pytest.raises(CatalogError, match="worsening"):
        load_catalog_from(data_copy)
