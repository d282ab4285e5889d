"""Server-side SVG bar charts for reports: no scripts (the content security policy allows none), axes
with units, values written beside each bar (so no hover is needed) and a text alternative.

Every chart is also shown as its table on the page, which is the text alternative a screen reader
reads in full; ``aria-label`` summarises it.
"""

from __future__ import annotations

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
    return f"{value:,.1f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"


def bar_chart_svg(
    bars: Sequence[Bar],
    *,
    title: str,
    unit: str,
    axis_max: float | None = None,
    reference: float | None = None,
    reference_label: str | None = None,
    width: int = 640,
) -> Markup:
    """Horizontal bars, one row each, scaled from 0 to ``axis_max`` (default: the largest value or
    interval end). ``reference`` draws a dashed vertical line (a published baseline, a target)."""
    if not bars:
        return Markup("")
    label_w, value_w, row_h, top, bottom = 200, 90, 26, 28, 34
    plot_w = width - label_w - value_w
    top_value = max([b.high if b.high is not None else b.value for b in bars] + [reference or 0.0])
    scale_max = axis_max if axis_max is not None else (top_value or 1.0)
    height = top + row_h * len(bars) + bottom

    def x(value: float) -> float:
        return round(label_w + max(0.0, min(value, scale_max)) / scale_max * plot_w, 1)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}: {len(bars)} bars, in {escape(unit)}; '
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
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        tx = round(label_w + frac * plot_w, 1)
        parts.append(
            f'<text x="{tx}" y="{axis_y + 16}" font-size="12" text-anchor="middle" fill="{TEXT_COLOUR}">'
            f"{_fmt(scale_max * frac)}</text>"
        )
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
