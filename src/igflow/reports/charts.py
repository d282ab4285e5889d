"""Server-side SVG bar charts for reports: no scripts (the content security policy allows none), axes
with units, values written beside each bar (so no hover is needed) and a text alternative.

Every chart is also shown as its table on the page, which is the text alternative a screen reader
reads in full; ``aria-label`` summarises it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

BAR_COLOUR = "#1d4ed8"
MARK_COLOUR = "#b45309"  # a reference line (a baseline, staffed capacity)
TEXT_COLOUR = "#1e293b"


@dataclass(frozen=True)
class Bar:
    label: str  # "Centre North, Tuesday"
    value: float
    low: float | None = None  # an interval drawn over the bar (a Wilson interval)
    high: float | None = None
    text: str | None = None  # the value as written beside the bar; default: the value and unit


def _fmt(value: float) -> str:
    """A number as written on a chart: whole numbers with thousands commas, one decimal from 10 up, three
    significant digits below 10 (0.034, 2.5)."""
    if value == int(value):
        return f"{int(value):,}"
    if abs(value) >= 10:
        return f"{value:,.1f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def _nice_step(rough: float) -> float:
    """The axis step near ``rough`` that reads well: 1, 2 or 5 times a power of ten (0.5, 1, 2, 5, 10 ...)."""
    if rough <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(rough))
    for multiple in (1, 2, 5, 10):
        if rough <= multiple * power:
            return float(multiple * power)
    return float(10 * power)


def bar_chart_svg(
    bars: Sequence[Bar],
    *,
    title: str,
    unit: str,
    axis_max: float | None = None,
    reference: float | None = None,
    reference_label: str | None = None,
    width: int = 640,
    label_width: int = 200,
) -> Markup:
    """Horizontal bars, one row each, scaled from 0 to ``axis_max`` (default: the largest value or
    interval end). ``reference`` draws a dashed vertical line (a published baseline, a target).
    ``label_width``: the room for the bars' labels, left of the axis (wider for long names)."""
    if not bars:
        return Markup("")
    label_w, value_w, row_h, top, bottom = label_width, 90, 26, 28, 34
    plot_w = width - label_w - value_w
    top_value = max([b.high if b.high is not None else b.value for b in bars] + [reference or 0.0])
    if axis_max is not None:
        scale_max, step = axis_max, _nice_step(axis_max / 4)
    else:  # up to the next round number above the largest value, so the last tick ends the axis
        step = _nice_step((top_value or 1.0) / 4)
        scale_max = math.ceil((top_value or 1.0) / step) * step
    height = top + row_h * len(bars) + bottom

    def x(value: float) -> float:
        return round(label_w + max(0.0, min(value, scale_max)) / scale_max * plot_w, 1)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}: {len(bars)} bar{"" if len(bars) == 1 else "s"}, in {escape(unit)}; '
        'the table below has every value">',
        f'<text x="0" y="16" font-size="14" font-weight="600" fill="{TEXT_COLOUR}">{escape(title)}</text>',
    ]
    for i, bar in enumerate(bars):
        y = top + i * row_h
        said = bar.text or _fmt(bar.value) + " " + unit
        label = bar.label if len(bar.label) <= 30 else bar.label[:29] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 17}" font-size="13" text-anchor="end" fill="{TEXT_COLOUR}">'
            f"{escape(label)}</text>"
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 5}" width="{round(x(bar.value) - label_w, 1)}" height="16" '
            f'fill="{BAR_COLOUR}"><title>{escape(bar.label)}: {escape(said)}'
            "</title></rect>"
        )
        if bar.low is not None and bar.high is not None:
            parts.append(
                f'<line x1="{x(bar.low)}" x2="{x(bar.high)}" y1="{y + 13}" y2="{y + 13}" '
                f'stroke="{TEXT_COLOUR}" stroke-width="2"/>'
            )
        parts.append(
            f'<text x="{width - value_w + 6}" y="{y + 17}" font-size="13" fill="{TEXT_COLOUR}">'
            f"{escape(said)}</text>"
        )
    axis_y = top + row_h * len(bars) + 4
    parts.append(
        f'<line x1="{label_w}" x2="{label_w + plot_w}" y1="{axis_y}" y2="{axis_y}" stroke="{TEXT_COLOUR}"/>'
    )
    tick = 0.0
    while tick <= scale_max + step / 1000:
        tx = round(label_w + tick / scale_max * plot_w, 1)
        parts.append(
            f'<text x="{tx}" y="{axis_y + 16}" font-size="12" text-anchor="middle" fill="{TEXT_COLOUR}">'
            f"{_fmt(round(tick, 6))}</text>"
        )
        tick += step
    parts.append(
        f'<text x="{label_w + plot_w}" y="{axis_y + 30}" font-size="12" text-anchor="end" '
        f'fill="{TEXT_COLOUR}">{escape(unit)}</text>'
    )
    if reference is not None:
        rx = x(reference)
        parts.append(
            f'<line x1="{rx}" x2="{rx}" y1="{top}" y2="{axis_y}" stroke="{MARK_COLOUR}" stroke-width="2" '
            'stroke-dasharray="5 3"/>'
        )
        if reference_label:
            parts.append(
                f'<text x="{rx + 4}" y="{top - 4}" font-size="12" fill="{MARK_COLOUR}">'
                f"{escape(reference_label)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text in it is escaped above)
