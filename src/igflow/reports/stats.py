"""Small statistics the reports need, pure: the Wilson score interval of a proportion, the median and the
90th percentile. No database, no clock.

Definitions (stated here once; the pages and tests say the same):

* **Wilson score interval** of ``k`` events in ``n`` trials at normal quantile ``z`` (1.96 for 95 %)::

      p = k / n
      centre = (p + z^2 / (2n)) / (1 + z^2 / n)
      half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / (4 n^2))
      interval = [centre - half, centre + half]

  It stays within [0, 1], contains ``p``, and is wide for small ``n`` (one reaction in three infusions is
  0.06 to 0.79), so a small centre is not over-read. ``n = 0`` has no interval.
* **Median**: the middle value of the sorted values; for an even count, the mean of the two middle ones.
* **p90** (nearest rank): the smallest value with at least 90 % of the values at or below it, i.e. the
  value at 1-based rank ``ceil(0.9 n)`` of the sorted values. It is always one of the values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z_95 = 1.959963984540054  # the standard normal quantile for a two-sided 95 % interval


def wilson_interval(events: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval (low, high) of ``events`` out of ``trials``; None when ``trials`` is 0."""
    if trials < 0 or events < 0 or events > trials:
        raise ValueError("need 0 <= events <= trials")
    if trials == 0:
        return None
    n, p, z2 = trials, events / trials, z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    # float rounding must not put the point estimate outside its own interval (k = 0 or k = n)
    return min(low, p), max(high, p)


def median(values: Sequence[float]) -> float | None:
    """The median (mean of the two middle values for an even count); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[mid])
    return (ordered[mid - 1] + ordered[mid]) / 2


def percentile_nearest_rank(values: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile: the value at 1-based rank ``ceil(percent / 100 * n)``; None for none."""
    if not 0 < percent <= 100:
        raise ValueError("percent must be in (0, 100]")
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(percent / 100 * len(ordered) - 1e-9)  # 0.9 * 10 is 9, not 9.000000000000002
    return float(ordered[max(1, rank) - 1])


def p90(values: Sequence[float]) -> float | None:
    return percentile_nearest_rank(values, 90)
