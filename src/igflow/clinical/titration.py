"""Infusion-rate plans: the label's titration ladder turned into pump steps for one day's volume."""

from __future__ import annotations

from dataclasses import dataclass

from igflow.catalog.models import Titration
from igflow.clinical.models import Step

_MG_PER_G = 1000.0
_MIN_PER_H = 60.0


def to_mg_per_kg_min(rate: float, unit: str, concentration_g_per_ml: float) -> float:
    """Convert a label rate to mg/kg/min (mL/kg/h x mg/mL / 60; mL/kg/min x mg/mL)."""
    mg_per_ml = concentration_g_per_ml * _MG_PER_G
    if unit == "mg_per_kg_min":
        return rate
    if unit == "ml_per_kg_h":
        return rate * mg_per_ml / _MIN_PER_H
    if unit == "ml_per_kg_min":
        return rate * mg_per_ml
    raise ValueError(f"unknown rate unit {unit!r}")


def ml_per_h(rate_mg_per_kg_min: float, rate_weight_kg: float, concentration_g_per_ml: float) -> float:
    """Pump rate: mg/kg/min x kg x 60 min/h / (g/mL x 1000 mg/g)."""
    return rate_mg_per_kg_min * rate_weight_kg * _MIN_PER_H / (concentration_g_per_ml * _MG_PER_G)


@dataclass(frozen=True)
class Ladder:
    """Rates (mg/kg/min) in order, the minutes spent on each rate before the next, and the cap."""

    rates_mg_per_kg_min: tuple[float, ...]
    minutes: tuple[int, ...]  # one per rate except the last, which runs until the volume is given
    label_initial_mg_per_kg_min: float
    label_max_mg_per_kg_min: float
    cap_mg_per_kg_min: float
    uses_site_protocol: bool


def build_ladder(
    protocol: Titration,
    concentration_g_per_ml: float,
    site_interval_min: int,
    risk_cap_mg_per_kg_min: float | None,
) -> Ladder:
    """The label's steps up to its maximum, or up to a lower cap that the patient's risks impose."""
    if protocol.max_rate is None:
        raise ValueError("protocol has no maximum rate")

    def convert(rate: float) -> float:
        return to_mg_per_kg_min(rate, protocol.rate_unit, concentration_g_per_ml)

    initial = convert(protocol.initial_rate)
    label_max = convert(protocol.max_rate)
    cap = label_max if risk_cap_mg_per_kg_min is None else min(label_max, risk_cap_mg_per_kg_min)
    interval = protocol.step_interval_min or site_interval_min
    first_minutes = protocol.initial_minutes or interval
    raw: list[float] = [initial]
    if protocol.step_rule == "explicit":
        raw.extend(convert(rate) for rate in protocol.explicit_rates or [])
    else:
        while raw[-1] < label_max:
            if protocol.step_rule == "increment":
                assert protocol.step_increment is not None
                raw.append(raw[-1] + convert(protocol.step_increment))
            else:
                raw.append(raw[-1] * 2)
    rates = [rate for rate in raw if rate < cap - 1e-9]
    if not rates:
        rates = [cap]
    elif rates[-1] < cap:
        rates.append(cap)
    minutes = tuple([first_minutes] + [interval] * (len(rates) - 2)) if len(rates) > 1 else ()
    return Ladder(
        rates_mg_per_kg_min=tuple(rates),
        minutes=minutes,
        label_initial_mg_per_kg_min=initial,
        label_max_mg_per_kg_min=label_max,
        cap_mg_per_kg_min=cap,
        uses_site_protocol=protocol.step_rule == "site-doubling",
    )


def plan_steps(
    ladder: Ladder, volume_ml: float, rate_weight_kg: float, concentration_g_per_ml: float
) -> tuple[Step, ...]:
    """Pump steps that deliver ``volume_ml``; the last step runs only as long as needed.

    Pump rates are rounded to 0.1 mL/h and the delivered volume is computed from the rounded
    rates, so the programmed steps give the day's volume (last step to 0.1 min).
    """
    steps: list[Step] = []
    remaining = volume_ml
    start = 0.0
    for index, rate in enumerate(ladder.rates_mg_per_kg_min):
        shown_rate = round(rate, 4)
        pump = round(ml_per_h(shown_rate, rate_weight_kg, concentration_g_per_ml), 1)
        if pump <= 0:
            raise ValueError("pump rate rounds to zero; weight too small for this protocol")
        is_open_ended = index == len(ladder.rates_mg_per_kg_min) - 1
        full_minutes = None if is_open_ended else ladder.minutes[index]
        needed_minutes = remaining / pump * _MIN_PER_H
        if full_minutes is None or needed_minutes <= full_minutes:
            minutes = max(0.1, round(needed_minutes, 1))
            steps.append(Step(start, minutes, shown_rate, pump, round(remaining, 1)))
            break
        given = pump * full_minutes / _MIN_PER_H
        steps.append(Step(start, float(full_minutes), shown_rate, pump, round(given, 1)))
        remaining -= given
        start += full_minutes
    return tuple(steps)
