"""IgG trough monitoring for subcutaneous products: when to measure, the target, and the label's
trough-gap dose adjustment, all from ``scig.yaml`` with their sources.

Only what the sources give is used. A product without a target says so (``target`` is None, with the
catalog's note); a gap and weight the label's table has no row for is refused with a clear message
(:class:`TroughRowMissing`): igflow never interpolates between the rows it holds.

Units: the IgG trough outcome measure is entered in g/L (``outcomes.yaml``); the labels' tables are in
mg/dL. 1 g/L = 100 mg/dL (a unit identity, not a clinical value).

Pure: no database, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from igflow.catalog import Catalog
from igflow.catalog.models import ScigTrough, TroughAdjustmentRow, TroughWindow

MG_PER_DL_PER_G_PER_L = 100.0
#: How close a gap (mg/dL) or a weight (kg) must be to a table row's to be that row (rounding to the
#: table's own precision, never interpolation between rows).
_ROW_TOLERANCE = 0.5

#: What the pharmacist reads when the table cannot suggest a change.
NO_ROW_ADVICE = "adjust by clinical response; the label table row is not in the catalog"


class TroughInputError(ValueError):
    """Input outside what an assessment can be made from (the message names the field)."""


class TroughRowMissing(LookupError):
    """The label's table has no row in the catalog for this gap and weight (igflow does not interpolate)."""


@dataclass(frozen=True)
class TroughMonitoring:
    """When to measure and what to aim for, in words and figures, with the sources."""

    product_id: str
    first_measure: TroughWindow | None
    repeat_every: TroughWindow | None
    minimum_g_per_l: float | None
    aim_g_per_l: float | None
    target_applies_to: str | None
    words: tuple[str, ...]
    sources: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class TroughAdjustment:
    """A change the label's table gives (``change_ml`` None: no change is needed for this gap)."""

    change_ml: float | None
    per: Literal["week"] | None
    words: str
    source: str
    verified: bool


@dataclass(frozen=True)
class TroughAssessment:
    """One trough reading against the target that applies to the product."""

    product_id: str
    reading_g_per_l: float
    below_target: bool
    target_g_per_l: float | None
    gap_mg_per_dl: float | None
    adjustment: TroughAdjustment | None
    words: str
    sources: list[str] = field(default_factory=list)


def _spec(product_id: str, catalog: Catalog) -> ScigTrough:
    try:
        return catalog.scig.trough_for(product_id)
    except LookupError:
        known = ", ".join([e.product for e in catalog.scig.products] + [catalog.scig.hyqvia.product])
        raise TroughInputError(
            f"product_id: {product_id!r} has no trough monitoring in the catalog (products with one: {known})"
        ) from None


def _window_words(window: TroughWindow) -> str:
    figure = f"{window.low:g}" if window.low == window.high else f"{window.low:g}-{window.high:g}"
    return f"{figure} {window.unit}"


def monitoring(product_id: str, catalog: Catalog) -> TroughMonitoring:
    """When the label says to measure the trough, and the target where a source gives one."""
    spec = _spec(product_id, catalog)
    name = catalog.products[product_id].name
    words: list[str] = []
    sources: list[str] = []
    notes: list[str] = []
    first, repeat, target = spec.first_measure, spec.repeat_every, spec.target
    if first.value is not None:
        words.append(f"Measure the IgG trough {_window_words(first.value)} after starting {name}.")
        sources.append(f"{name} trough timing: {first.source}")
    else:
        notes.append(str(first.note))
    if repeat.value is not None:
        words.append(f"Then every {_window_words(repeat.value)}.")
        sources.append(f"{name} trough repeat: {repeat.source}")
    elif repeat.note:
        notes.append(repeat.note)
    minimum = aim = None
    applies = None
    if target.value is not None:
        minimum, aim, applies = (
            target.value.minimum_g_per_l,
            target.value.aim_g_per_l,
            target.value.applies_to,
        )
        aim_words = f", aiming for {aim:g} g/L" if aim is not None else ""
        words.append(f"Target: at least {minimum:g} g/L{aim_words} ({applies}).")
        sources.append(f"{name} trough target: {target.source}")
        if target.note:
            notes.append(target.note)
    else:
        words.append("No trough target for this product in igflow's catalog: the prescriber sets it.")
        notes.append(str(target.note))
    return TroughMonitoring(
        product_id=product_id,
        first_measure=first.value,
        repeat_every=repeat.value,
        minimum_g_per_l=minimum,
        aim_g_per_l=aim,
        target_applies_to=applies,
        words=tuple(words),
        sources=tuple(sources),
        notes=tuple(notes),
    )


def _row_words(rows: list[TroughAdjustmentRow]) -> str:
    return "; ".join(f"{r.gap_mg_per_dl:g} mg/dL at {r.weight_kg:g} kg" for r in rows)


def adjustment(product_id: str, gap_mg_per_dl: float, weight_kg: float, catalog: Catalog) -> TroughAdjustment:
    """The label table's change for a trough ``gap_mg_per_dl`` below target at ``weight_kg``.

    Raises :class:`TroughRowMissing` when the catalog holds no row for this gap and weight (with the rows
    it does hold), and :class:`TroughInputError` for a gap or weight that is not positive."""
    if not gap_mg_per_dl > 0:
        raise TroughInputError("gap_mg_per_dl: must be more than 0 (the trough is below the target)")
    if not 0 < weight_kg <= 400:
        raise TroughInputError("weight_kg: must be more than 0 and at most 400 kg")
    spec = _spec(product_id, catalog)
    name = catalog.products[product_id].name
    no_change = spec.no_change_below_gap_mg_per_dl
    if no_change.value is not None and gap_mg_per_dl < no_change.value:
        return TroughAdjustment(
            change_ml=None,
            per=None,
            words=f"No change: the {name} label changes nothing for a gap under {no_change.value:g} mg/dL.",
            source=str(no_change.source),
            verified=no_change.verified,
        )
    rows = spec.adjustment_rows.value
    if not rows:
        raise TroughRowMissing(
            f"{name}: no trough-gap table in igflow's catalog ({spec.adjustment_rows.note}); {NO_ROW_ADVICE}."
        )
    row = next(
        (
            r
            for r in rows
            if abs(r.gap_mg_per_dl - gap_mg_per_dl) < _ROW_TOLERANCE
            and abs(r.weight_kg - weight_kg) < _ROW_TOLERANCE
        ),
        None,
    )
    if row is None:
        raise TroughRowMissing(
            f"{name}: the label table's row for a {gap_mg_per_dl:g} mg/dL gap at {weight_kg:g} kg is not in "
            f"igflow's catalog (it holds only {_row_words(rows)}), and igflow does not interpolate; "
            f"{NO_ROW_ADVICE}."
        )
    per = " a week" if row.per == "week" else " (the source does not say per week or per infusion)"
    return TroughAdjustment(
        change_ml=row.change_ml,
        per=row.per,
        words=f"The {name} label's table: {row.change_ml:+g} mL{per} for a {row.gap_mg_per_dl:g} mg/dL "
        f"gap at {row.weight_kg:g} kg.",
        source=row.source,
        verified=row.verified,
    )


def assess(
    product_id: str, reading_g_per_l: float, weight_kg: float | None, catalog: Catalog
) -> TroughAssessment:
    """A trough reading against the product's target: below it or not, the gap, and the table's change
    where the table has the row (else the advice to adjust by clinical response; ``weight_kg`` None: no
    weight to read the table by)."""
    if not 0 <= reading_g_per_l <= 100:
        raise TroughInputError(
            "reading_g_per_l: must be from 0 to 100 g/L (a mg/dL result is divided by 100)"
        )
    info = monitoring(product_id, catalog)
    target = info.aim_g_per_l if info.aim_g_per_l is not None else info.minimum_g_per_l
    if target is None:
        return TroughAssessment(
            product_id=product_id,
            reading_g_per_l=reading_g_per_l,
            below_target=False,
            target_g_per_l=None,
            gap_mg_per_dl=None,
            adjustment=None,
            words=f"IgG trough {reading_g_per_l:g} g/L. {info.words[-1]}",
        )
    sources = list(info.sources)
    if reading_g_per_l >= target:
        return TroughAssessment(
            product_id=product_id,
            reading_g_per_l=reading_g_per_l,
            below_target=False,
            target_g_per_l=target,
            gap_mg_per_dl=None,
            adjustment=None,
            words=f"IgG trough {reading_g_per_l:g} g/L: at or above the {target:g} g/L target "
            f"({info.target_applies_to}).",
            sources=sources,
        )
    gap = round((target - reading_g_per_l) * MG_PER_DL_PER_G_PER_L, 1)
    below_minimum = info.minimum_g_per_l is not None and reading_g_per_l < info.minimum_g_per_l
    level = (
        f"below the minimum {info.minimum_g_per_l:g} g/L"
        if below_minimum
        else f"below the {target:g} g/L aim"
    )
    found: TroughAdjustment | None = None
    if weight_kg is None:
        advice = f"No weight on record to read the label's table by; {NO_ROW_ADVICE}."
    else:
        try:
            found = adjustment(product_id, gap, weight_kg, catalog)
            advice = found.words
            sources.append(found.source)
        except TroughRowMissing as exc:
            advice = str(exc)
    return TroughAssessment(
        product_id=product_id,
        reading_g_per_l=reading_g_per_l,
        below_target=True,
        target_g_per_l=target,
        gap_mg_per_dl=gap,
        adjustment=found,
        words=f"IgG trough {reading_g_per_l:g} g/L: {level} ({info.target_applies_to}), {gap:g} mg/dL short "
        f"of {target:g} g/L. {advice}",
        sources=sources,
    )
