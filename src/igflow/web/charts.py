"""Small server-rendered SVG charts (no scripts, so they pass the content security policy)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date
from typing import Any

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
        f'<text x="{coords[0][0]}" y="{height - 2}" font-size="12" fill="#334155">{first[1]:g} kg</text>'
        f'<text x="{coords[-1][0] - 30}" y="10" font-size="12" fill="#334155">{last[1]:g} kg</text></svg>'
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
        f'<text x="{x(m)}" y="{height - 6}" font-size="12" text-anchor="middle" fill="#334155">{m:g}</text>'
        for m in sorted({0.0, round(total_min / 2), round(total_min)})
    )
    svg = (
        f'<svg class="rateplan" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}">'
        f'<line x1="{pad_left}" y1="{y(0)}" x2="{width - 8}" y2="{y(0)}" stroke="#94a3b8"/>'
        f'<line x1="{pad_left}" y1="{pad_top}" x2="{pad_left}" y2="{y(0)}" stroke="#94a3b8"/>'
        f'<text x="2" y="{y(top_rate) + 4}" font-size="12" fill="#334155">{top_rate:g}</text>'
        f'<text x="2" y="{y(0)}" font-size="12" fill="#334155">0</text>'
        f'<polyline fill="none" stroke="#b45309" stroke-width="2" points="{" ".join(points)}"/>'
        f"{ticks}"
        f'<text x="{width - 8}" y="{pad_top + 8}" font-size="12" text-anchor="end" fill="#334155">mL/h</text>'
        "</svg>"
    )
    return Markup(svg)  # noqa: S704 - built from numbers only, label escaped


# Distinct for the colour-blind too (Okabe-Ito's, darkened where white text must read on them, then
# Tol's muted), assigned to a board's indications in turn so two on one board never share a colour while
# there are fewer than twelve; the legend and the table below the board name each one (never colour alone).
_PALETTE = (
    "#0072b2",
    "#d55e00",
    "#009e73",
    "#cc79a7",
    "#8a6d00",
    "#56739a",
    "#b8530a",
    "#332288",
    "#117733",
    "#882255",
    "#44aa99",
    "#999933",
)


def indication_colours(indications: Iterable[str]) -> dict[str, str]:
    """A colour per indication on one board, each different while the palette lasts."""
    return {ind: _PALETTE[k % len(_PALETTE)] for k, ind in enumerate(sorted(set(indications)))}


def indication_colour(indication: str) -> str:
    """A colour for one indication out of context (stable across pages, may repeat)."""
    return _PALETTE[sum(map(ord, indication)) % len(_PALETTE)]


def chair_board_svg(board: dict[str, Any], now_min: int | None, width: int = 1100) -> Markup:
    """Chairs (rows) × time (columns) for one centre and day; a block per appointment, a line for now."""
    open_min, close_min = board["open_min"], board["close_min"]
    chairs = board["chairs"]
    if open_min is None or not chairs:
        return Markup("")
    row_h, left, top = 34, 70, 24
    height = top + row_h * len(chairs) + 8
    span = close_min - open_min

    def x(minute: float) -> float:
        return round(left + (minute - open_min) / span * (width - left - 10), 1)

    parts = [
        f'<svg class="board" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape("Chair board: " + str(len(board["appointments"])) + " appointments")}" '
        f'data-open-min="{open_min}" data-close-min="{close_min}" data-left="{left}" data-width="{width - left - 10}"'
        + (f' data-now-min="{now_min}"' if now_min is not None else "")
        + ">"
    ]
    for hour in range(math.ceil(open_min / 60), close_min // 60 + 1):
        hx = x(hour * 60)
        parts.append(f'<line x1="{hx}" y1="{top - 4}" x2="{hx}" y2="{height - 8}" stroke="#e2e8f0"/>')
        parts.append(
            f'<text x="{hx}" y="14" font-size="11" text-anchor="middle" fill="#334155">{hour:02d}:00</text>'
        )
    row_of = {c.id: k for k, c in enumerate(chairs)}
    colours = indication_colours(a["indication"] for a in board["appointments"])
    for k, chair in enumerate(chairs):
        y = top + k * row_h
        label = escape(chair.label + ("" if chair.active else " (out)"))
        parts.append(f'<text x="4" y="{y + 21}" font-size="12" fill="#0f172a">{label}</text>')
        parts.append(
            f'<line x1="{left}" y1="{y + row_h}" x2="{width - 10}" y2="{y + row_h}" stroke="#f1f5f9"/>'
        )
    for a in board["appointments"]:
        k = row_of.get(a["chair_id"])
        if k is None:
            continue
        y = top + k * row_h + 3
        x0, x1 = x(a["start_min"]), x(a["start_min"] + a["duration_min"])
        colour = colours[a["indication"]]
        opacity = "0.35" if a["status"] in ("no_show", "cancelled") else "0.9"
        title = escape(
            f"{a['patient']}: {a.get('indication_name', a['indication'])}, "
            f"{a.get('product_name', a['product'])}, day {a['day_index']} of {a['days']}, "
            f"{a['start_min'] // 60:02d}:{a['start_min'] % 60:02d} for {a['duration_min']} min "
            f"({a.get('live') or a['status']})"
        )
        parts.append(
            f'<a href="/courses/{a["course_id"]}"><g><title>{title}</title>'
            f'<rect x="{x0}" y="{y}" width="{max(x1 - x0, 2)}" height="{row_h - 6}" rx="4" fill="{colour}" '
            f'fill-opacity="{opacity}"/>'
            f'<text x="{x0 + 4}" y="{y + 18}" font-size="11" fill="#fff">'
            f"{escape((a['patient'][:24] + (' · ' + a['live'] if a.get('live') else ''))[:48])}</text></g></a>"
        )
    if now_min is not None and open_min <= now_min <= close_min:
        nx = x(now_min)
        parts.append(
            f'<line class="now" x1="{nx}" y1="{top - 6}" x2="{nx}" y2="{height - 6}" stroke="#dc2626" stroke-width="2"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped text only


def load_svg(day: dict[str, Any], width: int = 640, height: int = 170) -> Markup:
    """Patients in chairs per slot through one day against the capacity line: the mid-day peak, visible."""
    series = day.get("series") or []
    if not series:
        return Markup("")
    cap = max(day["capacity"], 1)
    top_value = max(cap, day["peak"], 1)
    pad_left, pad_bottom = 34, 22
    bar_w = (width - pad_left - 4) / len(series)
    label = escape(f"Peak {day['peak']} patients in chairs; capacity {cap}")
    parts = [
        f'<svg class="load" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{label}">'
    ]
    for k, (label, value) in enumerate(series):
        h = value / top_value * (height - pad_bottom - 6)
        colour = "#dc2626" if value >= cap else "#2563eb"
        parts.append(
            f'<rect x="{round(pad_left + k * bar_w, 1)}" y="{round(height - pad_bottom - h, 1)}" '
            f'width="{round(max(bar_w - 1, 1), 1)}" height="{round(h, 1)}" fill="{colour}"><title>{label}: {value}</title></rect>'
        )
        if label.endswith(":00") and int(label[:2]) % 2 == 0:
            parts.append(
                f'<text x="{round(pad_left + k * bar_w, 1)}" y="{height - 4}" font-size="12" fill="#334155">{label}</text>'
            )
    cy = round(height - pad_bottom - cap / top_value * (height - pad_bottom - 6), 1)
    parts.append(
        f'<line x1="{pad_left}" y1="{cy}" x2="{width - 4}" y2="{cy}" stroke="#0f172a" stroke-dasharray="4 3"/>'
    )
    parts.append(f'<text x="2" y="{cy + 4}" font-size="12" fill="#0f172a">{cap}</text>')
    parts.append(
        f'<text x="{width - 4}" y="14" font-size="12" text-anchor="end" fill="#334155">'
        "patients in chairs (dashed: what the nurses on duty allow)</text></svg>"
    )
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped text only


def infusion_timeline_svg(rows: list[dict[str, Any]], width: int = 760, height: int = 90) -> Markup:
    """A patient's infusions along a time axis; a dot per infusion, coloured by the worst reaction grade."""
    if not rows:
        return Markup("")
    first, last = rows[0]["date"].toordinal(), rows[-1]["date"].toordinal()
    span = max(last - first, 1)
    pad = 30
    colours = {0: "#16a34a", 1: "#ca8a04", 2: "#ea580c", 3: "#dc2626", 4: "#7f1d1d", 5: "#000000"}
    label = escape(f"{len(rows)} infusions from {rows[0]['date']} to {rows[-1]['date']}")
    parts = [
        f'<svg class="timeline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{label}">',
        f'<line x1="{pad}" y1="40" x2="{width - pad}" y2="40" stroke="#94a3b8"/>',
    ]
    for row in rows:
        x = round(pad + (row["date"].toordinal() - first) / span * (width - 2 * pad), 1)
        grade = int(row.get("max_reaction_grade") or 0)
        title = escape(f"{row['date']}: {row['product']} {row['dose_g']} g, reaction grade {grade or 'none'}")
        parts.append(
            f'<circle cx="{x}" cy="40" r="7" fill="{colours.get(grade, "#000")}"><title>{title}</title></circle>'
        )
    parts.append(f'<text x="{pad}" y="75" font-size="11" fill="#334155">{rows[0]["date"]}</text>')
    parts.append(
        f'<text x="{width - pad}" y="75" font-size="11" text-anchor="end" fill="#334155">{rows[-1]["date"]}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped text only


def outcome_trend_svg(
    title: str,
    unit: str,
    points: list[tuple[date, float]],
    *,
    baseline: float | None = None,
    band: tuple[float, float] | None = None,
    levels: list[tuple[float, str]] | None = None,
    infusions: list[date] | None = None,
    scale: tuple[float | None, float | None] = (None, None),
    width: int = 560,
    height: int = 180,
) -> Markup:
    """One outcome measure over time: the readings, the baseline (dashed), the band of change too small to
    count around it (shaded; the catalog's thresholds), level thresholds (dotted) and a thin vertical mark
    at each infusion date. Nothing is drawn without a reading."""
    if not points:
        return Markup("")
    points = sorted(points)
    levels, infusions = levels or [], sorted(set(infusions or []))
    start = points[0][0]
    end = max([points[-1][0], *[d for d in infusions if d >= start]])
    marks = [d for d in infusions if start <= d <= end]
    values = [v for _, v in points] + ([baseline] if baseline is not None else [])
    values += list(band or ()) + [v for v, _ in levels]
    low = scale[0] if scale[0] is not None else min(values)
    high = scale[1] if scale[1] is not None else max(values)
    if scale[1] is None:
        high += max((high - low) * 0.1, 1.0)
    span_value = max(high - low, 1e-9)
    left, right, top, bottom = 46, 12, 12, 24
    span_days = max((end - start).days, 1)

    def x(d: date) -> float:
        if end == start:
            return round(left + (width - left - right) / 2, 1)
        return round(left + (d - start).days / span_days * (width - left - right), 1)

    def y(v: float) -> float:
        v = min(max(v, low), high)
        return round(height - bottom - (v - low) / span_value * (height - top - bottom), 1)

    label = f"{title}: {len(points)} readings from {points[0][0]} to {points[-1][0]}"
    if baseline is not None:
        label += f"; baseline {baseline:g} {unit}"
    if band is not None:
        label += f"; change within {band[0]:g} to {band[1]:g} {unit} does not count"
    label += f"; {len(marks)} infusions marked"
    parts = [
        f'<svg class="outcome" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#94a3b8"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#94a3b8"/>',
        f'<text x="{left - 4}" y="{y(high) + 4}" font-size="12" text-anchor="end" fill="#334155">{high:g}</text>',
        f'<text x="{left - 4}" y="{y(low)}" font-size="12" text-anchor="end" fill="#334155">{low:g}</text>',
    ]
    if band is not None:
        y0, y1 = y(max(band)), y(min(band))
        parts.append(
            f'<rect x="{left}" y="{y0}" width="{width - left - right}" height="{round(max(y1 - y0, 1), 1)}" '
            f'fill="#16a34a" fill-opacity="0.12"><title>{escape(f"{band[0]:g} to {band[1]:g} {unit}")}'
            "</title></rect>"
        )
    for value, name in levels:
        parts.append(
            f'<line x1="{left}" y1="{y(value)}" x2="{width - right}" y2="{y(value)}" stroke="#7c3aed" '
            f'stroke-dasharray="2 3"><title>{escape(f"{name}: {value:g} {unit}")}</title></line>'
        )
    if baseline is not None:
        parts.append(
            f'<line x1="{left}" y1="{y(baseline)}" x2="{width - right}" y2="{y(baseline)}" stroke="#0f172a" '
            f'stroke-dasharray="6 4"><title>{escape(f"Baseline {baseline:g} {unit}")}</title></line>'
        )
    for d in marks:
        parts.append(
            f'<line class="infusion" x1="{x(d)}" y1="{top}" x2="{x(d)}" y2="{height - bottom}" stroke="#b45309" '
            f'stroke-opacity="0.6"><title>Infusion {d}</title></line>'
        )
    coords = [(x(d), y(v)) for d, v in points]
    if len(coords) > 1:
        polyline = " ".join(f"{cx},{cy}" for cx, cy in coords)
        parts.append(f'<polyline fill="none" stroke="#1d4ed8" stroke-width="2" points="{polyline}"/>')
    for (cx, cy), (d, v) in zip(coords, points, strict=True):
        parts.append(
            f'<circle cx="{cx}" cy="{cy}" r="3.5" fill="#1d4ed8"><title>{escape(f"{d}: {v:g} {unit}")}</title>'
            "</circle>"
        )
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="12" fill="#334155">{start}</text>')
    if end != start:
        parts.append(
            f'<text x="{width - right}" y="{height - 6}" font-size="12" text-anchor="end" fill="#334155">{end}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers, dates and escaped text only
