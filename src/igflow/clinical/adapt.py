"""How a plan adapts to the patient instead of refusing: the at-risk maximum rate (label, site protocol or
the verifying pharmacist), premedication and a slower rate after a reaction, the creatinine the site asks
for, the pre-pregnancy weight some policies dose on, and a dosing-weight fallback shown with both doses.

Pure, like the engine that calls it: every number comes from the catalog (with a protocol applied) or the
request.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import cast

from igflow.catalog import Catalog, Indication, Phase, Policy, Product, Titration
from igflow.clinical.alerts import Alert
from igflow.clinical.errors import DoseInputError
from igflow.clinical.models import DoseRequest, WeightResult
from igflow.clinical.titration import to_mg_per_kg_min


@dataclass(frozen=True)
class RateLimit:
    """The maximum rate a patient's risks and history allow, with the alerts and sources that explain it."""

    cap_mg_per_kg_min: float | None
    known: bool
    alerts: tuple[Alert, ...]
    sources: tuple[str, ...]


def rate_limit(
    request: DoseRequest,
    catalog: Catalog,
    product: Product,
    protocol: Titration,
    cap_groups: list[str],
    concentration: float,
) -> RateLimit:
    """The lowest of the label's at-risk cap, the site protocol's, the pharmacist's, the after-reaction cap.

    A patient at risk with none of the first three known gets ``known=False``: a hard stop that the
    verifying pharmacist can resolve by entering a value with a reason.
    """
    decisions = catalog.administration.site_decisions
    caps: list[tuple[float, str]] = []
    notes: list[str] = []
    alerts: list[Alert] = []
    known = True
    if cap_groups:
        if protocol.at_risk_max_rate is not None:
            label_cap = to_mg_per_kg_min(protocol.at_risk_max_rate, protocol.rate_unit, concentration)
            caps.append((label_cap, f"At-risk maximum ({product.name} label): {protocol.at_risk_note}"))
        for rule in decisions.at_risk_caps:
            if rule.applies(product.id, request.indication, cap_groups):
                caps.append(
                    (
                        rule.max_rate_mg_per_kg_min,
                        f"At-risk maximum {rule.max_rate_mg_per_kg_min:g} mg/kg/min: {rule.source}",
                    )
                )
        entered = request.pharmacist_max_rate_mg_per_kg_min
        if entered is not None:
            reason = (request.pharmacist_reason or "").strip()
            caps.append(
                (
                    entered,
                    f"At-risk maximum {entered:g} mg/kg/min entered by the verifying pharmacist for this "
                    f"patient: {reason}",
                )
            )
            alerts.append(
                Alert.make(
                    "rate_cap_by_pharmacist",
                    f"At-risk maximum {entered:g} mg/kg/min entered by the verifying pharmacist for this "
                    f"patient ({', '.join(cap_groups)}): {reason}",
                )
            )
        if not caps:
            known = False
            alerts.append(
                Alert.make(
                    "risk_rate_cap_unknown",
                    f"Patient at risk ({', '.join(cap_groups)}): the {product.name} label asks for the "
                    "minimum practicable rate but gives no number "
                    f"({protocol.at_risk_note or 'no note'}), and no "
                    "approved site protocol sets one. The verifying pharmacist enters the at-risk maximum "
                    "for this patient with a reason (Verification queue, on the order), or a P&T approver "
                    "sets it for the site (Site protocols page); or choose a product whose label gives one.",
                )
            )
    if request.prior_reaction_grade:
        fraction = decisions.after_reaction_max_rate_fraction
        premedication = decisions.premedication_after_reaction
        grade = request.prior_reaction_grade
        if fraction.value is not None and protocol.max_rate is not None:
            label_max = to_mg_per_kg_min(protocol.max_rate, protocol.rate_unit, concentration)
            slowed = round(label_max * fraction.value, 4)
            caps.append((slowed, f"After a reaction: {fraction.source}"))
            alerts.append(
                Alert.make(
                    "rate_slowed_after_reaction",
                    f"A grade {grade} reaction is on the chart: maximum rate {slowed:g} mg/kg/min "
                    f"({fraction.value:g} of the label's {label_max:g}), site protocol.",
                )
            )
        if premedication.value:
            alerts.append(
                Alert.make(
                    "premedication_after_reaction",
                    f"A grade {grade} reaction is on the chart: give the site protocol's premedication "
                    f"before the infusion: {'; '.join(premedication.value)}.",
                )
            )
            notes.append(f"Premedication after a reaction: {premedication.source}")
        if fraction.value is None and not premedication.value:
            alerts.append(
                Alert.make(
                    "after_reaction_no_protocol",
                    f"A grade {grade} reaction is on the chart and no site protocol sets premedication or a "
                    "slower rate: the verifying pharmacist decides (record it in the verification note).",
                )
            )
    return RateLimit(
        cap_mg_per_kg_min=min(value for value, _ in caps) if caps else None,
        known=known,
        alerts=tuple(alerts),
        sources=tuple(source for _, source in sorted(caps, key=lambda item: item[0])) + tuple(notes),
    )


def weight_request(request: DoseRequest, policy: Policy, alerts: list[Alert]) -> DoseRequest:
    """The request the dosing weight is computed from: for a pregnant patient under a policy that doses
    on pre-pregnancy weight, that weight (or a warning asking for it)."""
    if not (request.pregnant and policy.pregnancy_weight == "pre-pregnancy"):
        return request
    before = request.pre_pregnancy_weight_kg
    if before is None:
        alerts.append(
            Alert.make(
                "pre_pregnancy_weight_needed",
                f"Policy {policy.name} doses a pregnant patient on her pre-pregnancy weight "
                f"({policy.source}); none is recorded, so today's weight is used. Record the pre-pregnancy "
                "weight on the patient's chart (the plan is recomputed).",
            )
        )
        return request
    if not math.isfinite(before) or before <= 0:
        raise DoseInputError("pre_pregnancy_weight_kg", "must be a positive weight in kg")
    return dataclasses.replace(request, weight_kg=before)


def fallback_alert(
    request: DoseRequest, catalog: Catalog, indication: Indication, policy: Policy, weight: WeightResult
) -> Alert:
    """A policy fell back to actual weight: a warning with both doses when that changes the dose enough."""
    reasoning = " ".join(weight.reasoning)
    formula_kg = weight.formula_weight_kg
    regimen = indication.regimens.get(cast(Phase, request.phase))
    g_per_kg = request.dose_g_per_kg or (regimen.usual_g_per_kg if regimen is not None else None)
    if formula_kg is None or formula_kg <= 0 or g_per_kg is None:
        return Alert.make("policy_weight_reasoning", reasoning)
    actual_g = g_per_kg * weight.dosing_weight_kg
    formula_g = g_per_kg * formula_kg
    change = 100 * (actual_g - formula_g) / formula_g
    threshold = catalog.administration.site_decisions.dosing_weight_fallback_warning_percent
    if threshold.value is not None and change <= threshold.value:
        return Alert.make("policy_weight_reasoning", reasoning)
    why = (
        f"above the site protocol's {threshold.value:g} %"
        if threshold.value is not None
        else "no site protocol sets how much change needs a decision"
    )
    return Alert.make(
        "dosing_weight_fallback",
        f"{reasoning} On actual weight the dose is {actual_g:.1f} g; policy {policy.id}'s formula would give "
        f"{formula_kg:g} kg and {formula_g:.1f} g ({change:+.1f} %, {why}). The pharmacist decides which "
        "weight to dose on (a prescriber can set the order's policy).",
    )


def creatinine_alert(request: DoseRequest, catalog: Catalog) -> list[Alert]:
    days = catalog.administration.site_decisions.renal_creatinine_max_age_days.value
    if days is None or (request.creatinine_age_days is not None and request.creatinine_age_days <= days):
        return []
    have = (
        "no serum creatinine is on record"
        if request.creatinine_age_days is None
        else f"the latest serum creatinine is {request.creatinine_age_days} days old"
    )
    return [
        Alert.make(
            "creatinine_out_of_date",
            f"Renal risk: {have}; the site protocol asks for one within {days} days before the course. "
            "Record a creatinine on the patient's chart (the plan is recomputed).",
        )
    ]


def premedication(request: DoseRequest, catalog: Catalog) -> list[str]:
    items = catalog.administration.site_decisions.premedication_after_reaction.value
    return list(items) if request.prior_reaction_grade and items else []


__all__ = [
    "RateLimit",
    "creatinine_alert",
    "fallback_alert",
    "premedication",
    "rate_limit",
    "weight_request",
]
