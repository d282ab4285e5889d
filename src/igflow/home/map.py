"""The route map, drawn from coordinates alone (no tile server is reachable): an equirectangular projection
of the day's points into an SVG view box, one coloured line per nurse from her home base through her visits
and back, numbered stops. Pure: the page's template draws what this returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Colour-blind-safe palette (Okabe and Ito), cycled per nurse.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")


@dataclass(frozen=True)
class MapPoint:
    x: float
    y: float
    label: str  # the stop's number, or "H" for the nurse's home base
    title: str  # what a hover shows: patient or nurse, and time


@dataclass
class MapLine:
    colour: str
    name: str
    points: list[MapPoint] = field(default_factory=list)

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass
class RouteMap:
    width: int
    height: int
    lines: list[MapLine]
    centres: list[MapPoint]


def project(
    routes: list[tuple[str, list[tuple[float, float, str, str]]]],
    centres: list[tuple[float, float, str]],
    width: int = 640,
    height: int = 420,
    margin: int = 24,
) -> RouteMap:
    """``routes``: (nurse name, [(lat, lon, label, title), ...]) with the home base first and last;
    ``centres``: (lat, lon, name). Returns the drawing in view-box units, north up."""
    lats = [p[0] for _, pts in routes for p in pts] + [c[0] for c in centres]
    lons = [p[1] for _, pts in routes for p in pts] + [c[1] for c in centres]
    if not lats:
        return RouteMap(width=width, height=height, lines=[], centres=[])
    mid_lat = (min(lats) + max(lats)) / 2
    kx = math.cos(math.radians(mid_lat))  # a degree of longitude is shorter away from the equator
    span_x = max((max(lons) - min(lons)) * kx, 1e-6)
    span_y = max(max(lats) - min(lats), 1e-6)
    scale = min((width - 2 * margin) / span_x, (height - 2 * margin) / span_y)

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return margin + (lon - min(lons)) * kx * scale, height - margin - (lat - min(lats)) * scale

    lines = []
    for i, (name, pts) in enumerate(routes):
        line = MapLine(colour=PALETTE[i % len(PALETTE)], name=name)
        for lat, lon, label, title in pts:
            x, y = xy(lat, lon)
            line.points.append(MapPoint(x=x, y=y, label=label, title=title))
        lines.append(line)
    marks = [MapPoint(*xy(lat, lon), label="C", title=name) for lat, lon, name in centres]
    return RouteMap(width=width, height=height, lines=lines, centres=marks)
