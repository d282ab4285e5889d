"""Subcutaneous immunoglobulin (SCIG) plans: switching a patient from IVIG, in named steps.

Every number comes from the catalog (``scig.yaml`` for the conversion factor, frequencies and per-site
limits; ``products.yaml`` for concentration and vial sizes), with its source on the plan. A value the
catalog does not hold is a hard stop that says so, never a guess.

The steps: check the input; find the product's SCIG entry and the patient's band of per-site limits;
convert the IV dose to a weekly SC dose (previous IV grams / weeks between IV doses x the label's
factor); split it by the chosen frequency; choose whole vials; count the sites the volume needs at the
label's volume per site (a hard stop above the label's sites, with the most frequent split that fits);
rate per site and in all, and the infusion's duration.

HyQvia (ramp-up with hyaluronidase) is :func:`plan_hyqvia`. De-novo and loading regimens are not planned
yet and say so. The plan dict an order stores and ``igflow dose`` prints is built in ``scig_contract``.

Pure: no database, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from igflow.catalog import Catalog
from igflow.catalog.models import ScigBand, ScigProduct, SiteLimits
from igflow.clinical.vials import fewest_vials, to_cg

Severity = Literal["hard_stop", "warning", "info"]


class ScigInputError(ValueError):
    """Input outside what a plan can be made from (the message names the field and the range)."""

    @property
    def field(self) -> str:
        return str(self).partition(":")[0]

    @property
    def message(self) -> str:
        return str(self).partition(": ")[2] or str(self)


@dataclass(frozen=True)
class ScigRequest:
    product_id: str
    previous_iv_dose_g: float  # grams per IV infusion
    iv_interval_weeks: float  # weeks between IV infusions
    interval_days: int  # how often the SC infusions are given (1 = daily, 7 = weekly, 14 = every 2 weeks)
    weight_kg: float
    age_years: float
    infusion_number: int = 1  # 1 for the patient's first SC infusion of this product


@dataclass(frozen=True)
class ScigAlert:
    severity: Severity
    code: str
    message: str


@dataclass
class ScigPlan:
    product_id: str
    weekly_dose_g: float | None = None
    dose_per_infusion_g: float | None = None
    dispensed_g: float | None = None
    vials: dict[float, int] = field(default_factory=dict)
    volume_ml: float | None = None
    sites: int | None = None
    volume_per_site_ml: float | None = None
    rate_per_site_ml_per_h: float | None = None
    total_rate_ml_per_h: float | None = None
    duration_min: int | None = None
    suggested_interval_days: int | None = None  # a more frequent split that fits the label's sites
    alerts: list[ScigAlert] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def hard_stopped(self) -> bool:
        return any(a.severity == "hard_stop" for a in self.alerts)

    def stop(self, code: str, message: str) -> ScigPlan:
        self.alerts.append(ScigAlert("hard_stop", code, message))
        return self


def check_input(request: ScigRequest) -> None:
    """Refuse input outside what a plan can be made from (:class:`ScigInputError` names the field)."""
    _check_input(request)


def _check_input(request: ScigRequest) -> None:
    if not 0 < request.previous_iv_dose_g <= 400:
        raise ScigInputError("previous_iv_dose_g: must be more than 0 and at most 400 g per infusion")
    if not 0 < request.iv_interval_weeks <= 12:
        raise ScigInputError("iv_interval_weeks: must be more than 0 and at most 12 weeks")
    if not 1 <= request.interval_days <= 28:
        raise ScigInputError("interval_days: must be from 1 (daily) to 28 days")
    if not 0.3 <= request.weight_kg <= 400:
        raise ScigInputError("weight_kg: must be from 0.3 to 400 kg")
    if not 0 <= request.age_years <= 120:
        raise ScigInputError("age_years: must be from 0 to 120 years")
    if not 1 <= request.infusion_number <= 10_000:
        raise ScigInputError("infusion_number: must be 1 or more")


def _entry(request: ScigRequest, catalog: Catalog, plan: ScigPlan) -> ScigProduct | None:
    if request.product_id not in catalog.products:
        raise ScigInputError(f"product_id: unknown product {request.product_id!r}")
    try:
        return catalog.scig.for_product(request.product_id)
    except LookupError:
        name = catalog.products[request.product_id].name
        plan.stop(
            "scig_not_in_catalog",
            f"{name} has no subcutaneous plan in igflow's catalog (it is not licensed for subcutaneous use, "
            "or its SC label values are not in scig.yaml). A pharmacist plans it by hand from the label.",
        )
        return None


def _band(entry: ScigProduct, request: ScigRequest) -> ScigBand | None:
    return next(
        (
            b
            for b in entry.bands
            if request.weight_kg >= b.min_weight_kg and request.age_years >= b.min_age_years
        ),
        None,
    )


def _limits(entry: ScigProduct, band: ScigBand, request: ScigRequest) -> SiteLimits | None:
    first = entry.first_infusions.value
    if first is None:
        return None
    return band.first if request.infusion_number <= first else band.later


def _sites_for(volume_ml: float, limits: SiteLimits) -> int:
    return max(1, math.ceil(volume_ml / limits.volume_per_site_ml - 1e-9))


def plan_scig(request: ScigRequest, catalog: Catalog) -> ScigPlan:
    """An SC plan from a patient's IV regimen (see the module's steps)."""
    _check_input(request)
    plan = ScigPlan(product_id=request.product_id)
    entry = _entry(request, catalog, plan)
    if entry is None:
        return plan
    product = catalog.products[request.product_id]
    factor = entry.conversion_factor
    if factor.value is None:
        return plan.stop("conversion_unknown", f"{product.name}: {factor.note}")
    plan.sources.append(f"{product.name} conversion: {factor.source}")
    low, high = entry.interval_days.value or (0, 0)
    if not low <= request.interval_days <= high:
        return plan.stop(
            "frequency_not_allowed",
            f"{product.name} is given every {low} to {high} days ({entry.interval_days.source}); "
            f"every {request.interval_days} days is outside that.",
        )
    band = _band(entry, request)
    if band is None:
        return plan.stop(
            "no_site_limits",
            f"{product.name}: the label data igflow holds give no per-site limits for a patient of "
            f"{request.weight_kg:g} kg aged {request.age_years:g}; a pharmacist decides from the label.",
        )
    plan.sources.append(f"{product.name} per-site limits: {band.source}")
    limits = _limits(entry, band, request)
    if limits is None:
        return plan.stop("no_site_limits", f"{product.name}: {entry.first_infusions.note}")
    # the dose: weekly from the IV regimen, then per infusion at the chosen frequency
    weekly = request.previous_iv_dose_g / request.iv_interval_weeks * factor.value
    plan.weekly_dose_g = round(weekly, 2)
    per_infusion = weekly * request.interval_days / 7
    plan.dose_per_infusion_g = round(per_infusion, 2)
    sizes = tuple(product.vial_sizes_g.value or ())
    concentration = product.concentration_g_per_ml.value
    if not sizes or concentration is None:
        note = product.vial_sizes_g.note or product.concentration_g_per_ml.note or "not in the catalog"
        return plan.stop(
            "product_data_missing", f"{product.name}: vial sizes or concentration unknown ({note})."
        )
    if not _choose_vials(plan, per_infusion, sizes):
        return plan.stop(
            "no_vial_combination", f"No whole-vial combination of {product.name} fits {per_infusion:.2f} g."
        )
    assert plan.dispensed_g is not None
    plan.volume_ml = round(plan.dispensed_g / concentration, 1)
    _sites_and_rate(plan, entry, band, limits, request, weekly, concentration)
    return plan


def _choose_vials(plan: ScigPlan, dose_g: float, sizes: tuple[float, ...]) -> bool:
    """The whole vials nearest the dose, never more than one smallest vial above it (ties go down)."""
    unit = math.gcd(*(to_cg(s) for s in sizes))
    target, smallest = to_cg(dose_g), to_cg(min(sizes))
    best: tuple[int, int] | None = None
    low = max(unit, (target - smallest) // unit * unit)
    for amount in range(low, target + smallest + 1, unit):
        if fewest_vials(amount, sizes) is None:
            continue
        key = (abs(amount - target), amount)
        if best is None or key < best:
            best = key
    if best is None:
        return False
    chosen = fewest_vials(best[1], sizes)
    assert chosen is not None
    plan.dispensed_g = best[1] / 100
    plan.vials = {v.size_g: v.count for v in chosen}
    if best[1] != target:
        plan.alerts.append(
            ScigAlert(
                "info",
                "dose_rounded",
                f"{dose_g:.2f} g per infusion is given as {plan.dispensed_g:g} g in whole vials.",
            )
        )
    return True


def _sites_and_rate(
    plan: ScigPlan,
    entry: ScigProduct,
    band: ScigBand,
    limits: SiteLimits,
    request: ScigRequest,
    weekly_g: float,
    concentration: float,
) -> None:
    assert plan.volume_ml is not None
    sites = _sites_for(plan.volume_ml, limits)
    most = entry.max_sites.value
    if most is None:
        plan.alerts.append(
            ScigAlert(
                "warning",
                "sites_unknown",
                f"{sites} site(s) at {limits.volume_per_site_ml:g} mL each; {entry.max_sites.note} "
                "The verifying pharmacist confirms the number of sites.",
            )
        )
    elif sites > most:
        fits = [
            d
            for d in range(request.interval_days - 1, (entry.interval_days.value or (1, 1))[0] - 1, -1)
            if _sites_for(weekly_g * d / 7 / concentration, limits) <= most
        ]
        plan.suggested_interval_days = fits[0] if fits else None
        needed = _sites_for(weekly_g * fits[0] / 7 / concentration, limits) if fits else 0
        offer = (
            f" Every {fits[0]} day(s) fits ({needed} sites)."
            if fits
            else " No frequency the label allows fits; a pharmacist reviews the dose."
        )
        plan.stop(
            "too_many_sites",
            f"{plan.volume_ml:g} mL needs {sites} sites at the label's {limits.volume_per_site_ml:g} mL "
            f"per site; the label allows {most} at once.{offer}",
        )
        return
    plan.sites = sites
    plan.volume_per_site_ml = round(plan.volume_ml / sites, 1)
    plan.rate_per_site_ml_per_h = limits.rate_per_site_ml_per_h
    total = sites * limits.rate_per_site_ml_per_h
    cap = band.total_rate_ml_per_h or entry.total_rate_ml_per_h.value
    if cap is not None and total > cap:
        total = cap
        plan.rate_per_site_ml_per_h = round(cap / sites, 1)
        plan.alerts.append(
            ScigAlert("info", "total_rate_capped", f"The total rate is held at the label's {cap:g} mL/h.")
        )
    plan.total_rate_ml_per_h = total
    plan.duration_min = math.ceil(plan.volume_ml / total * 60)


# --- HyQvia: the ramp-up --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RampStep:
    week: int  # week of the ramp-up, 1 for the first infusion
    covers_weeks: int  # this infusion is the k-week dose
    dose_g: float
    dispensed_g: float
    vials: dict[float, int]
    volume_ml: float
    sites: int
    volume_per_site_ml: float


@dataclass
class HyqviaPlan:
    steps: list[RampStep] = field(default_factory=list)
    interval_weeks: int | None = None
    alerts: list[ScigAlert] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def hard_stopped(self) -> bool:
        return any(a.severity == "hard_stop" for a in self.alerts)

    def stop(self, code: str, message: str) -> HyqviaPlan:
        self.alerts.append(ScigAlert("hard_stop", code, message))
        return self


def plan_hyqvia(
    previous_iv_dose_g: float, iv_interval_weeks: int, weight_kg: float, age_years: float, catalog: Catalog
) -> HyqviaPlan:
    """HyQvia from IVIG: the same dose and interval after the label's ramp-up (the 1-week dose in week 1,
    the 2-week dose in week 2, the 3-week dose in week 4, the 4-week dose in week 7), each infusion in whole
    vials and at most the label's sites and volume per site. The IG rate steps are not in the catalog: the
    plan stops and says so (the ramp-up is still given, for the pharmacist who plans it from the label)."""
    _check_input(ScigRequest("hyqvia", previous_iv_dose_g, float(iv_interval_weeks), 7, weight_kg, age_years))
    spec = catalog.scig.hyqvia
    plan = HyqviaPlan()
    product = catalog.products[spec.product]
    low, high = spec.interval_weeks.value or (0, 0)
    if not low <= iv_interval_weeks <= high:
        return plan.stop(
            "frequency_not_allowed",
            f"HyQvia is given every {low} or {high} weeks after the ramp-up ({spec.interval_weeks.source}); "
            f"an IV interval of {iv_interval_weeks} weeks has no ramp-up in the label data igflow holds.",
        )
    band = next(
        (b for b in spec.bands if weight_kg >= b.min_weight_kg and age_years >= b.min_age_years), None
    )
    if band is None:
        return plan.stop(
            "no_site_limits",
            f"HyQvia: no per-site volume is held for a patient of {weight_kg:g} kg (the sources give only a "
            "daily maximum below 40 kg); a pharmacist plans it from the label.",
        )
    factor, weeks = spec.conversion_factor.value, spec.ramp_up.value or []
    sizes = tuple(product.vial_sizes_g.value or ())
    concentration = product.concentration_g_per_ml.value
    if factor is None or not sizes or concentration is None or len(weeks) < iv_interval_weeks:
        return plan.stop(
            "product_data_missing", "HyQvia: the conversion, vials or ramp-up are not in the catalog."
        )
    plan.interval_weeks = iv_interval_weeks
    plan.sources += [
        f"HyQvia conversion: {spec.conversion_factor.source}",
        f"HyQvia ramp-up: {spec.ramp_up.source}",
        f"HyQvia volumes: {band.source}",
    ]
    weekly = previous_iv_dose_g * factor / iv_interval_weeks
    for k in range(1, iv_interval_weeks + 1):
        holder = ScigPlan(product_id="hyqvia")
        if not _choose_vials(holder, weekly * k, sizes):
            return plan.stop(
                "no_vial_combination", f"No whole-vial combination of HyQvia fits {weekly * k:.2f} g."
            )
        assert holder.dispensed_g is not None
        volume = round(holder.dispensed_g / concentration, 1)
        if volume > band.max_volume_per_day_ml:
            return plan.stop(
                "too_much_volume",
                f"The {k}-week dose is {volume:g} mL; HyQvia allows about {band.max_volume_per_day_ml:g} mL "
                f"a day ({band.source}). A pharmacist splits it or keeps a shorter interval.",
            )
        sites = 1 if volume <= band.volume_per_site_ml else 2 if volume <= 2 * band.volume_per_site_ml else 3
        if sites == 3 and volume > 3 * band.volume_per_site_3_sites_ml:
            return plan.stop(
                "too_much_volume",
                f"The {k}-week dose is {volume:g} mL: more than 3 sites of "
                f"{band.volume_per_site_3_sites_ml:g} mL.",
            )
        plan.steps.append(
            RampStep(
                week=weeks[k - 1],
                covers_weeks=k,
                dose_g=round(weekly * k, 2),
                dispensed_g=holder.dispensed_g,
                vials=holder.vials,
                volume_ml=volume,
                sites=sites,
                volume_per_site_ml=round(volume / sites, 1),
            )
        )
    # Without the IG rate no infusion time can be planned nor a pump checked at the visit: a hard stop, as
    # the IV engine stops for a product without a rate protocol (the ramp-up above is still shown).
    plan.alerts.append(
        ScigAlert(
            "hard_stop",
            "rate_not_in_catalog",
            f"HyQvia: {spec.rate.note} igflow cannot time the infusion or check the pump without it.",
        )
    )
    return plan
