"""Readings in: the value types and the validation of a reading against its measure's sourced scale.

``Score`` (a number in the measure's unit, or its parts by id), ``ResponseInputError`` (invalid input,
naming the field and what is allowed), ``validate_value`` (a reading's total, refused outside the
scale, never clamped), the change between two readings without the part changes a measure's
definition excludes, the plain-date check, and the number-with-unit wording every message shares.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime

from igflow.catalog.models import Fact, Measure

#: A reading's value: a number in the measure's unit, or its parts by id (adjusted INCAT: arm, leg).
Score = float | int | Mapping[str, float | int]

# Float subtraction noise only (e.g. 30.1 - 22.1); not a clinical tolerance.
_FLOAT_TOLERANCE = 1e-9


class ResponseInputError(ValueError):
    """Invalid input from the caller (names the field and what is allowed); not a clinical finding."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _amount(value: float, unit: str) -> str:
    """``3 points``, ``1 point``, ``8 kPa``: a number with its unit."""
    text = _fmt(value)
    if unit in ("points", "infections", "days") and text == "1":
        return f"1 {unit[:-1]}"
    return f"{text} {unit}"


def _scale_text(low: float | None, high: float | None, unit: str) -> str:
    if low is not None and high is not None:
        return f"{_fmt(low)} to {_fmt(high)} {unit}"
    if low is not None:
        return f"at least {_fmt(low)} {unit} (no upper bound is sourced)"
    if high is not None:
        return f"at most {_fmt(high)} {unit} (no lower bound is sourced)"
    return "any value (no bound is sourced)"


def _check_number(
    field: str, label: str, value: object, scale: tuple[Fact[float], Fact[float]], unit: str, integer: bool
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResponseInputError(field, f"{label} must be a number in {unit}, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ResponseInputError(field, f"{label} must be a finite number, got {value!r}")
    if integer and not number.is_integer():
        raise ResponseInputError(field, f"{label} is scored in whole {unit}, got {_fmt(number)}")
    low, high = scale[0].value, scale[1].value
    if (low is not None and number < low) or (high is not None and number > high):
        raise ResponseInputError(
            field, f"{label}: {_fmt(number)} {unit} is outside the scale {_scale_text(low, high, unit)}"
        )
    return number


def _validated_parts(measure: Measure, value: object) -> dict[str, float]:
    wanted = [part.id for part in measure.parts]
    if not isinstance(value, Mapping) or sorted(value) != sorted(wanted):
        raise ResponseInputError(
            measure.id, f"{measure.name} is entered as its parts {', '.join(wanted)}, got {value!r}"
        )
    return {
        part.id: _check_number(
            f"{measure.id}.{part.id}",
            f"{measure.name}, {part.name}",
            value[part.id],
            (part.scale_min, part.scale_max),
            measure.unit,
            measure.integer,
        )
        for part in measure.parts
    }


def validate_value(measure: Measure, value: object) -> float:
    """The reading's total in the measure's unit, refused (``ResponseInputError``) when outside the
    sourced scale, not whole on an integer scale, or not a finite number. Nothing is clamped.

    A measure with parts (adjusted INCAT) takes a mapping of every part; each part and the total are
    checked. A bound the catalog does not know (null) is not checked, and the message says so.
    """
    if measure.parts:
        total = sum(_validated_parts(measure, value).values())
        return _check_number(
            measure.id,
            measure.name,
            total,
            (measure.scale_min, measure.scale_max),
            measure.unit,
            measure.integer,
        )
    return _check_number(
        measure.id, measure.name, value, (measure.scale_min, measure.scale_max), measure.unit, measure.integer
    )


def _adjusted_change(measure: Measure, baseline: Score, current: Score) -> tuple[float, tuple[str, ...]]:
    """``current - baseline``, without the part changes the measure's definition excludes."""
    change = validate_value(measure, current) - validate_value(measure, baseline)
    if not measure.excluded_part_changes:
        return change, ()
    base, now = _validated_parts(measure, baseline), _validated_parts(measure, current)
    notes: list[str] = []
    for rule in measure.excluded_part_changes:
        before, after = base[rule.part], now[rule.part]
        if before != after and {before, after} == set(rule.between):
            change -= after - before
            notes.append(
                f"The {measure.part(rule.part).name} change {_fmt(before)} -> {_fmt(after)} is not counted "
                f"in {measure.name} (catalog: {rule.source})."
            )
    return change, tuple(notes)


def _plain_date(name: str, value: object) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ResponseInputError(name, f"must be a date (not a date-time), got {value!r}")
    return value
