"""Small server-rendered SVG charts (no scripts, so they pass the content security policy)."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape


def weight_trend_svg(points: list[tuple[date, float]], width: int = 320, height: int = 90) -> Markup:
    """A sparkline of weight over time with the first and last values labelled."""
    if len(points) < 2:
        return Markup("")
    points = sorted(points)
    pad = 24
    day0 = points[0][0].toordinal()
    span_days = max(points[-1][0].toordinal() - day0, 1)
    values = [v for _, v in points]
    low, high = min(values), max(values)
    span = max(high - low, 1.0)

    def xy(d: date, v: float) -> tuple[float, float]:
        x = pad + (d.toordinal() - day0) / span_days * (width - 2 * pad)
        y = height - pad / 2 - (v - low) / span * (height - pad)
        return round(x, 1), round(y, 1)

    coords = [xy(d, v) for d, v in points]
    polyline = " ".join(f"{x},{y}" for x, y in coords)
    first, last = points[0], points[-1]
    label = f"Weight from {first[1]:g} kg on {first[0]} to {last[1]:g} kg on {last[0]}"
    dots = "".join(f'<circle cx="{x}" cy="{y}" r="2.5" fill="#1d4ed8"/>' for x, y in coords)
    svg = (
        f'<svg class="trend" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}">'
        f'<polyline fill="none" stroke="#1d4ed8" stroke-width="2" points="{polyline}"/>'
        f"{dots}"
        f'<text x="{coords[0][0]}" y="{height - 2}" font-size="10" fill="#334155">{first[1]:g} kg</text>'
        f'<text x="{coords[-1][0] - 30}" y="10" font-size="10" fill="#334155">{last[1]:g} kg</text></svg>'
    )
    return Markup(svg)  # noqa: S704 - built from numbers and dates only, label escaped
