"""Safety screening: patient facts x product x indication -> alerts and a rate cap."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from igflow.catalog import Catalog, Indication, Product
from igflow.clinical.alerts import Alert
from igflow.clinical.models import DoseRequest

#: Risk groups for which labels ask for the minimum practicable rate. Heart failure is included
#: because the Gammaplex label names volume overload in the same sentence as renal and thrombotic risk.
RATE_CAP_GROUPS = frozenset({"renal", "thrombosis", "cardiac"})


@dataclass(frozen=True)
class ScreeningResult:
    alerts: tuple[Alert, ...]
    risk_groups: frozenset[str]

    @property
    def cap_groups(self) -> list[str]:
        """Risk groups that call for the minimum practicable rate (a capped maximum)."""
        return sorted(self.risk_groups & RATE_CAP_GROUPS)

    @property
    def needs_rate_cap(self) -> bool:
        return bool(self.cap_groups)


def risk_groups(request: DoseRequest, catalog: Catalog) -> frozenset[str]:
    """Risk groups present: from the declared risks, plus renal risk for age above the threshold."""
    by_id = {risk.id: risk for risk in catalog.administration.screening.risks}
    groups: set[str] = set()
    for risk_id in request.risks:
        groups.update(by_id[risk_id].groups)
    age_limit = catalog.administration.screening.renal_risk_age_over_years.value
    if age_limit is not None and request.age_years > age_limit:
        groups.add("renal")
    return frozenset(groups)


def _names(catalog: Catalog, indication_ids: Iterable[str]) -> list[str]:
    return [catalog.indications[i].name if i in catalog.indications else i for i in indication_ids]


def screen(
    request: DoseRequest, indication: Indication, product: Product, catalog: Catalog
) -> ScreeningResult:
    """Alerts that depend on patient facts, the indication and the product (not on the dose)."""
    alerts: list[Alert] = []
    groups = risk_groups(request, catalog)
    screening = catalog.administration.screening
    override = (request.override_reason or "").strip()

    if indication.recommendation == "not-recommended":
        if override:
            alerts.append(
                Alert.make(
                    "not_recommended_overridden",
                    f"Ig is not recommended for {indication.name} ({indication.recommendation_source}); "
                    f"prescriber's documented reason: {override}",
                )
            )
        else:
            alerts.append(
                Alert.make(
                    "not_recommended_indication",
                    f"Ig is not recommended for {indication.name} ({indication.recommendation_source}). "
                    "Proceeding needs the prescriber's documented reason (--override-reason).",
                )
            )
    elif indication.recommendation == "conditional":
        alerts.append(
            Alert.make(
                "conditional_indication",
                f"{indication.name}: Ig is conditional ({indication.recommendation_source}); "
                "check prior approval / panel authorisation.",
            )
        )

    approved = product.approved_indications.value
    if approved is None:
        alerts.append(
            Alert.make(
                "product_data_unknown", f"{product.name}: licensed indications are unknown in the catalog."
            )
        )
    elif indication.id not in approved:
        alerts.append(
            Alert.make(
                "off_label_product",
                f"{product.name} is not licensed for {indication.name} (licensed for: "
                f"{'; '.join(_names(catalog, approved))}); "
                "off-label use, the label's general titration protocol is used.",
            )
        )

    if request.iga_deficient_with_antibodies:
        threshold = screening.low_iga_max_ug_per_ml.value
        iga = product.iga_ug_per_ml.value
        if threshold is None or iga is None or iga > threshold:
            iga_text = "unknown" if iga is None else f"{iga:g} micrograms/mL"
            alerts.append(
                Alert.make(
                    "iga_deficiency_with_antibodies",
                    f"IgA deficiency with anti-IgA antibodies: {product.name} IgA content is {iga_text} "
                    "and it is "
                    "not a catalog-designated low-IgA product. Risk of anaphylaxis: do not give; specialist "
                    "advice on a low-IgA product.",
                )
            )

    if "severe-reaction" in groups:
        alerts.append(
            Alert.make(
                "prior_severe_reaction",
                "Prior anaphylactic or severe systemic reaction to human immunoglobulin: the labels "
                "contraindicate further use. Specialist (immunology) review before any Ig.",
            )
        )

    if "proline" in groups:
        proline = product.proline_stabilised.value
        if proline is None:
            alerts.append(
                Alert.make(
                    "product_data_unknown",
                    f"Hyperprolinaemia: whether {product.name} is proline-stabilised is unknown "
                    "in the catalog.",
                )
            )
        elif proline:
            alerts.append(
                Alert.make(
                    "hyperprolinaemia_proline_product",
                    f"Hyperprolinaemia: {product.name} is proline-stabilised and contraindicated. "
                    "Choose a product without proline.",
                )
            )

    if "renal" in groups:
        sucrose_free = product.sucrose_free.value
        if sucrose_free is None:
            alerts.append(
                Alert.make(
                    "product_data_unknown",
                    f"Renal risk: whether {product.name} is sucrose-free is unknown in the catalog.",
                )
            )
        elif not sucrose_free:
            alerts.append(
                Alert.make(
                    "sucrose_product_at_renal_risk",
                    f"Renal risk: {product.name} contains sucrose; use a sucrose-free product.",
                )
            )
        by_id = {risk.id: risk for risk in screening.risks}
        why = [risk_id for risk_id in request.risks if "renal" in by_id[risk_id].groups]
        age_limit = screening.renal_risk_age_over_years.value
        if age_limit is not None and request.age_years > age_limit:
            why.append(f"age over {age_limit:g}")
        alerts.append(
            Alert.make(
                "renal_risk",
                f"Renal risk ({', '.join(why)}): sucrose-free product, minimum practicable rate, hydrate "
                "before the infusion, check serum creatinine before each course and stop if it rises.",
            )
        )
    if "thrombosis" in groups:
        alerts.append(
            Alert.make(
                "thrombosis_risk",
                "Thrombosis risk: give at the minimum practicable rate, ensure hydration, watch for signs of "
                "thrombosis; assess viscosity if hyperviscosity is possible.",
            )
        )
    adult_age = screening.adult_age_years.value
    for licence in product.licensed_ages:
        if indication.id not in licence.indications:
            continue
        below_min = licence.min_age_years is not None and request.age_years < licence.min_age_years
        not_adult = licence.adults_only and adult_age is not None and request.age_years < adult_age
        if below_min or not_adult:
            alerts.append(
                Alert.make(
                    "outside_licensed_age",
                    f"{product.name} is licensed for {licence.wording} ({licence.source}); the patient is "
                    f"{request.age_years:g} years old. Use outside the licence is the prescriber's decision.",
                )
            )
    for note in product.label_notes:
        alerts.append(Alert.make("product_label_note", f"{product.name}: {note.text} ({note.source})"))
    if request.pregnant:
        alerts.append(
            Alert.make(
                "pregnancy",
                "Pregnant: use only if clearly needed (label). Ontario doses on pre-pregnancy weight (except "
                "PID/SID); Australia 2026 uses actual weight in pregnancy. Check the weight entered.",
            )
        )
    return ScreeningResult(alerts=tuple(alerts), risk_groups=groups)
