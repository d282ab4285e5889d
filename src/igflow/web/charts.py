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


def rate_plan_svg(steps: list[dict[str, float]], width: int = 520, height: int = 160) -> Markup:
    """A step chart of the pump rate (mL/h) over the infusion minutes, for one day of a plan."""
    if not steps:
        return Markup("")
    pad_left, pad_bottom, pad_top = 44, 22, 10
    total_min = max(s["start_min"] + s["minutes"] for s in steps)
    top_rate = max(s["rate_ml_per_h"] for s in steps) or 1.0

    def x(minute: float) -> float:
        return round(pad_left + minute / total_min * (width - pad_left - 8), 1)

    def y(rate: float) -> float:
        return round(height - pad_bottom - rate / top_rate * (height - pad_bottom - pad_top), 1)

    points: list[str] = []
    for s in steps:
        points.append(f"{x(s['start_min'])},{y(s['rate_ml_per_h'])}")
        points.append(f"{x(s['start_min'] + s['minutes'])},{y(s['rate_ml_per_h'])}")
    label = (
        f"Pump rate from {steps[0]['rate_ml_per_h']:g} to {top_rate:g} mL/h over {total_min:g} minutes "
        f"in {len(steps)} steps"
    )
    ticks = "".join(
        f'<text x="{x(m)}" y="{height - 6}" font-size="10" text-anchor="middle" fill="#334155">{m:g}</text>'
        for m in sorted({0.0, round(total_min / 2), round(total_min)})
    )
    svg = (
        f'<svg class="rateplan" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}">'
        f'<line x1="{pad_left}" y1="{y(0)}" x2="{width - 8}" y2="{y(0)}" stroke="#94a3b8"/>'
        f'<line x1="{pad_left}" y1="{pad_top}" x2="{pad_left}" y2="{y(0)}" stroke="#94a3b8"/>'
        f'<text x="2" y="{y(top_rate) + 4}" font-size="10" fill="#334155">{top_rate:g}</text>'
        f'<text x="2" y="{y(0)}" font-size="10" fill="#334155">0</text>'
        f'<polyline fill="none" stroke="#b45309" stroke-width="2" points="{" ".join(points)}"/>'
        f"{ticks}"
        f'<text x="{width - 8}" y="{pad_top + 8}" font-size="10" text-anchor="end" fill="#334155">mL/h</text>'
        "</svg>"
    )
    return Markup(svg)  # noqa: S704 - built from numbers only, label escaped
