"""Travel minutes between points. The solver uses only the :class:`TravelMatrix` protocol, so a road-network
service can replace the straight-line estimate without touching it."""

from __future__ import annotations

import math
from typing import Protocol

from igflow.routing.models import Point, TravelParams

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


class TravelMatrix(Protocol):
    def minutes(self, points: list[Point]) -> list[list[int]]:
        """Whole minutes from each point to each other point (0 on the diagonal)."""
        ...


def haversine_km(a: Point, b: Point) -> float:
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


class HaversineTravel:
    """Great-circle km x detour factor / speed, plus a fixed time per leg (parking), rounded up."""

    def __init__(self, params: TravelParams) -> None:
        self.params = params

    def leg(self, a: Point, b: Point) -> int:
        if a == b:
            return 0
        km = haversine_km(a, b) * self.params.detour_factor
        return math.ceil(km / self.params.speed_km_per_h * 60) + self.params.fixed_min_per_leg

    def minutes(self, points: list[Point]) -> list[list[int]]:
        return [[0 if i == j else self.leg(a, b) for j, b in enumerate(points)] for i, a in enumerate(points)]
