"""Alert codes the engine can emit. Codes are stable: the API, FHIR and scripts rely on them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["hard_stop", "warning", "info"]

#: Every code the engine can emit, with its severity and what it means.
ALERT_CODES: dict[str, tuple[Severity, str]] = {
    # hard stops: no plan may be given as it stands
    "route_not_supported": ("hard_stop", "subcutaneous product: SC rate protocols are not in this engine"),
    "product_data_unknown": ("hard_stop", "a product value the plan needs is unknown in the catalog"),
    "no_regimen_for_phase": ("hard_stop", "the catalog has no sourced regimen for this indication and phase"),
    "not_recommended_indication": ("hard_stop", "Ig is not recommended for this indication (overridable)"),
    "dose_above_max": ("hard_stop", "prescribed dose above the regimen maximum per course"),
    "dose_not_dispensable": ("hard_stop", "no whole-vial amount satisfies the rounding rule and maximum"),
    "iga_deficiency_with_antibodies": ("hard_stop", "IgA deficiency with anti-IgA antibodies"),
    "prior_severe_reaction": ("hard_stop", "prior anaphylactic or severe systemic reaction to Ig"),
    "hyperprolinaemia_proline_product": ("hard_stop", "proline-stabilised product in hyperprolinaemia"),
    "sucrose_product_at_renal_risk": ("hard_stop", "sucrose-containing product in a patient at renal risk"),
    "risk_rate_cap_unknown": (
        "hard_stop",
        "patient at risk, no at-risk maximum known: set by the verifying pharmacist or a site protocol",
    ),
    # warnings: the plan stands, a clinician must read them
    "dose_rounded": ("warning", "dispensed whole-vial dose differs from the prescribed dose"),
    "dose_below_range": ("warning", "prescribed dose below the regimen's range"),
    "days_outside_range": ("warning", "number of days outside the regimen's range"),
    "off_label_product": ("warning", "product not licensed for this indication"),
    "not_recommended_overridden": ("warning", "not-recommended indication, prescriber override recorded"),
    "renal_risk": ("warning", "renal risk: sucrose-free product, hydration, creatinine before each course"),
    "thrombosis_risk": ("warning", "thrombosis risk: minimum practicable rate, hydration"),
    "heart_failure_volume": ("warning", "heart failure: volume load, slower rate, prefer 10% product"),
    "rate_capped_for_risk": ("warning", "maximum rate lowered because of patient risk factors"),
    "pregnancy": ("warning", "pregnancy: check the weight basis and the product label"),
    "rate_cap_by_pharmacist": ("warning", "at-risk maximum rate entered by the verifying pharmacist"),
    "pre_pregnancy_weight_needed": (
        "warning",
        "the policy doses on pre-pregnancy weight and none is recorded",
    ),
    "outside_licensed_age": ("warning", "the patient's age is outside the label's licensed age range"),
    "creatinine_out_of_date": ("warning", "renal risk: no serum creatinine within the site protocol's days"),
    "dosing_weight_fallback": ("warning", "the policy fell back to actual weight and that changes the dose"),
    "premedication_after_reaction": ("warning", "prior reaction: the site protocol's premedication proposed"),
    "rate_slowed_after_reaction": ("warning", "prior reaction: maximum rate lowered by the site protocol"),
    "after_reaction_no_protocol": ("warning", "prior reaction: no site protocol; the pharmacist decides"),
    # information
    "conditional_indication": ("info", "indication needs prior approval / panel review"),
    "titration_site_protocol": ("info", "label gives no step schedule; site titration protocol used"),
    "policy_weight_reasoning": ("info", "the policy fell back to actual weight; reasoning attached"),
    "product_label_note": ("info", "a label statement to read with every plan for this product"),
}


#: Hard stops the verifying pharmacist may resolve for one patient by entering the missing value with a
#: reason (recorded with the verification). Every other hard stop needs the order or the patient's facts
#: changed.
PHARMACIST_RESOLVABLE: frozenset[str] = frozenset({"risk_rate_cap_unknown"})


@dataclass(frozen=True)
class Alert:
    severity: Severity
    code: str
    message: str

    @classmethod
    def make(cls, code: str, message: str) -> Alert:
        severity, _ = ALERT_CODES[code]
        return cls(severity=severity, code=code, message=message)

    def to_dict(self) -> dict[str, str]:
        out = {"severity": self.severity, "code": self.code, "message": self.message}
        if self.code in PHARMACIST_RESOLVABLE:
            out["resolvable_by"] = "pharmacist"
        return out
