"""Whole-vial dispensing: course total by the policy's rounding rule, split into days.

Amounts are handled as integers in centigrams so that 2.5 g or 1.65 g vials are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from igflow.clinical.models import VialCount

Rounding = Literal["down", "nearest", "nearest-5g"]
_CG_PER_G = 100


def to_cg(grams: float) -> int:
    return round(grams * _CG_PER_G)


@dataclass(frozen=True)
class VialPlan:
    course_cg: int
    days_cg: tuple[int, ...]
    days_vials: tuple[tuple[VialCount, ...], ...]


@lru_cache(maxsize=256)
def _min_vials_table(sizes_units: tuple[int, ...], upto: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Min vial count for every amount 0..upto (in units) and the last vial used; -1 = impossible."""
    impossible = upto + 10**9
    best = [0] + [impossible] * upto
    last = [-1] * (upto + 1)
    for amount in range(1, upto + 1):
        for size in sizes_units:
            if size <= amount and best[amount - size] + 1 < best[amount]:
                best[amount] = best[amount - size] + 1
                last[amount] = size
    return tuple(-1 if b >= impossible else b for b in best), tuple(last)


def _table(sizes_units: tuple[int, ...], upto: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    # round the table size up to a power of two so that the cache is shared between requests
    size = 1 << max(6, math.ceil(math.log2(upto + 1)))
    return _min_vials_table(sizes_units, size)


def fewest_vials(amount_cg: int, sizes_g: tuple[float, ...]) -> tuple[VialCount, ...] | None:
    """The combination with the fewest vials that makes exactly ``amount_cg``, or None."""
    sizes_cg = tuple(sorted({to_cg(size) for size in sizes_g}, reverse=True))
    unit = math.gcd(*sizes_cg)
    if amount_cg <= 0 or amount_cg % unit:
        return None
    units = amount_cg // unit
    best, last = _table(tuple(size // unit for size in sizes_cg), units)
    if best[units] < 0:
        return None
    counts: dict[int, int] = {}
    remaining = units
    while remaining:
        size = last[remaining]
        counts[size] = counts.get(size, 0) + 1
        remaining -= size
    return tuple(
        VialCount(size_g=size * unit / _CG_PER_G, count=counts[size]) for size in sorted(counts, reverse=True)
    )


def _candidates(prescribed_cg: int, step_cg: int, max_cg: int, rule: Rounding) -> list[int]:
    """Course totals to try, best first: multiples of ``step_cg``, never above ``max_cg``.

    ``down`` tries totals at or below the prescription; ``nearest`` may also try the next step up
    when it is at most half a step above the prescription.
    """
    floor_total = (prescribed_cg // step_cg) * step_cg
    ceiling_total = floor_total if floor_total == prescribed_cg else floor_total + step_cg
    below = [floor_total - k * step_cg for k in range(floor_total // step_cg)]
    if rule == "down":
        ordered = below
    else:
        # round up only to the next whole step, and only when it is at most half a step away;
        # if that total cannot be split into whole vials per day, fall back to lower totals
        # (never inflate the dose to make a split work)
        above = (
            [ceiling_total]
            if ceiling_total != floor_total and 2 * (ceiling_total - prescribed_cg) <= step_cg
            else []
        )
        # nearest first; on a tie the lower amount (less drug) wins
        ordered = sorted(below + above, key=lambda total: (abs(total - prescribed_cg), total))
    return [total for total in ordered if 0 < total <= max_cg]


def split_course(total_cg: int, days: int, unit_cg: int) -> tuple[int, ...]:
    """Split a course into ``days`` amounts (multiples of ``unit_cg``) as evenly as possible.

    The extra units go to the last days, so the first (often slowest) infusion is not the largest.
    """
    units = total_cg // unit_cg
    base, extra = divmod(units, days)
    return tuple((base + (1 if day >= days - extra else 0)) * unit_cg for day in range(days))


def plan_vials(
    prescribed_g: float,
    max_course_g: float,
    days: int,
    sizes_g: tuple[float, ...],
    rule: Rounding,
    rounding_step_g: float | None = None,
) -> VialPlan | None:
    """Choose the course total and each day's whole vials.

    - ``down``: the largest total not above the prescribed dose;
    - ``nearest``: the total closest to the prescribed dose (ties go down);
    - ``nearest-5g``: as nearest, on multiples of ``rounding_step_g`` (Ontario: 5 g).
    The total never exceeds ``max_course_g``; each day gets whole vials, the fewest possible.
    Returns None when no total satisfies the rule.
    """
    sizes_cg = [to_cg(size) for size in sizes_g]
    unit = math.gcd(*sizes_cg)
    step = unit
    if rule == "nearest-5g":
        if rounding_step_g is None:
            raise ValueError("nearest-5g needs rounding_step_g")
        step = math.lcm(unit, to_cg(rounding_step_g))
    prescribed_cg = to_cg(prescribed_g)
    max_cg = math.floor(max_course_g * _CG_PER_G + 1e-6)
    for total in _candidates(prescribed_cg, step, max_cg, rule):
        day_amounts = split_course(total, days, unit)
        day_vials = [fewest_vials(amount, sizes_g) for amount in day_amounts]
        if all(v is not None for v in day_vials):
            return VialPlan(
                course_cg=total,
                days_cg=day_amounts,
                days_vials=tuple(v for v in day_vials if v is not None),
            )
    return None
