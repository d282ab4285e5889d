"""Orders for subcutaneous products: their inputs, checked with the field's name, and their plan.

An order for an SC product is a switch from IVIG (the previous IV dose and its interval, and how often the
SC infusions are given); it is planned by ``clinical.scig_contract.plan_sc`` from the patient's facts
(weight, age, risks) instead of the IV engine. SCIG is given at home: the patient self-infuses after the
nurse's training visits, so an SC order's setting is ``home``. The plan dict carries ``route: "sc"`` and the
keys scheduling reads, so courses (the nurse's visits) are made from a verified SC plan as from an IV one.
"""

from __future__ import annotations

from typing import Any

from igflow.catalog import Catalog
from igflow.clinical.scig import ScigInputError, ScigRequest
from igflow.clinical.scig_contract import ScigContext, infusion_number_for, is_sc_product, plan_sc
from igflow.errors import InvalidInput
from igflow.orders.models import Order
from igflow.orders.schemas import DosePreviewIn, OrderIn

#: The patient's facts an SC plan depends on: weight and age (the label's bands, the chart's weight
#: check), and what the screening reads (sex for pregnancy, risks, IgA deficiency). A change of another
#: fact (height, creatinine, the dosing-weight policy, site protocols, reaction grades) leaves the SC plan.
SC_TRACKED = ("weight_kg", "sex", "age_years", "risks", "pregnant", "iga_deficient_with_antibodies")

_SC_FIELDS = ("previous_iv_dose_g", "iv_interval_weeks", "sc_interval_days")
_IV_ONLY = {
    "dose_g_per_kg": "the dose of a subcutaneous plan comes from the previous IV dose and the label's "
    "conversion; leave it blank",
    "days": "a subcutaneous plan is one infusion at the SC interval; leave it blank",
    "policy_id": "the dosing-weight policy is for IV doses; a subcutaneous plan converts the IV dose; "
    "leave it blank",
}
_FIELD_NAMES = {
    "product_id": "product_id",
    "interval_days": "sc_interval_days",
    "previous_iv_dose_g": "previous_iv_dose_g",
    "iv_interval_weeks": "iv_interval_weeks",
    "indication": "indication_id",
    "phase": "phase",
}


def is_sc_order(order: Order | OrderIn, catalog: Catalog) -> bool:
    return is_sc_product(order.product_id, catalog)


def check_inputs(data: OrderIn, catalog: Catalog) -> str:
    """The order's setting, once its route's inputs are checked (InvalidInput names the field)."""
    product = catalog.products[data.product_id]
    if not is_sc_order(data, catalog):
        for name in _SC_FIELDS:
            if getattr(data, name) is not None:
                also = (
                    " (its subcutaneous use is not orderable in igflow yet)" if "sc" in product.routes else ""
                )
                raise InvalidInput(
                    f"{name}: only for subcutaneous products; {product.name} is ordered intravenously{also}",
                    name,
                )
        return data.setting or "centre"
    if data.setting == "centre":
        raise InvalidInput(
            f"setting: {product.name} is subcutaneous: SCIG is given at home, self-infused by the patient "
            "after a nurse's training visits. Choose home.",
            "setting",
        )
    for name, why in (
        ("previous_iv_dose_g", "the IV dose (g per infusion) being switched from"),
        ("iv_interval_weeks", "the weeks between those IV infusions"),
    ):
        if getattr(data, name) is None:
            raise InvalidInput(f"{name}: {product.name} is subcutaneous: enter {why}", name)
    if data.sc_interval_days is None and data.product_id != catalog.scig.hyqvia.product:
        raise InvalidInput(
            f"sc_interval_days: {product.name} is subcutaneous: enter how often it is given, in days "
            "(1 daily, 7 weekly, 14 every two weeks)",
            "sc_interval_days",
        )
    for name, why in _IV_ONLY.items():
        if getattr(data, name) is not None:
            raise InvalidInput(f"{name}: {why}", name)
    return "home"


def _interval_days(order: Order | OrderIn) -> int:
    if order.sc_interval_days is not None:
        return order.sc_interval_days
    return round((order.iv_interval_weeks or 0) * 7)  # HyQvia keeps the IV interval


def _without_inputs(order: Order | OrderIn, facts: dict[str, Any]) -> dict[str, Any]:
    """An SC order entered before SC plans (no IV regimen to switch from): a hard stop saying so."""
    return {
        "route": "sc",
        "product": order.product_id,
        "status": "hard_stop",
        "weight_kg": facts["weight_kg"],
        "age_years": facts["age_years"],
        "dispensed_g": None,
        "days": [],
        "ramp_up": [],
        "alerts": [
            {
                "severity": "hard_stop",
                "code": "sc_inputs_missing",
                "message": "This order for a subcutaneous product has no IV regimen to switch from (the "
                "previous IV dose and the weeks between IV doses): it was entered before igflow planned "
                "SC products.",
                "resolves": "the prescriber enters a new order with the previous IV dose, the weeks between "
                "IV doses and the SC interval; the pharmacist rejects this one",
            }
        ],
        "sources": [],
    }


def plan(order: Order | OrderIn, facts: dict[str, Any], catalog: Catalog) -> dict[str, Any]:
    """The SC plan dict for the order and the patient's facts (``docs/dose-scig.md``)."""
    if order.previous_iv_dose_g is None or order.iv_interval_weeks is None:
        return _without_inputs(order, facts)
    request = ScigRequest(
        product_id=order.product_id,
        previous_iv_dose_g=float(order.previous_iv_dose_g or 0),
        iv_interval_weeks=float(order.iv_interval_weeks or 0),
        interval_days=_interval_days(order),
        weight_kg=float(facts["weight_kg"]),
        age_years=float(facts["age_years"]),
        infusion_number=infusion_number_for(order.product_id, order.first_infusion, catalog),
    )
    context = ScigContext(
        indication=order.indication_id,
        phase=order.phase,
        risks=tuple(facts.get("risks") or ()),
        iga_deficient_with_antibodies=bool(facts.get("iga_deficient_with_antibodies")),
        pregnant=bool(facts.get("pregnant")),
        override_reason=order.override_reason or None,
        sex=facts.get("sex"),
        height_cm=facts.get("height_cm"),
    )
    try:
        return plan_sc(request, catalog, context)
    except ScigInputError as exc:
        field = _FIELD_NAMES.get(exc.field, "patient_id")
        prefix = "the patient's record: " if field == "patient_id" else ""
        raise InvalidInput(f"{field}: {prefix}{exc.message}", field) from None


def preview(data: DosePreviewIn, catalog: Catalog) -> dict[str, Any] | None:
    """The calculator's SC plan (None: the request is for the IV engine)."""
    if data.route == "iv" or (data.route is None and not is_sc_product(data.product, catalog)):
        for name in ("previous_iv_dose_g", "iv_interval_weeks", "interval_days", "infusion_number"):
            if getattr(data, name) is not None:
                raise InvalidInput(f"{name}: only for a subcutaneous plan (an SC product, or route sc)", name)
        return None
    for name in ("previous_iv_dose_g", "iv_interval_weeks"):
        if getattr(data, name) is None:
            raise InvalidInput(
                f"{name}: required for a subcutaneous plan (the IV regimen being switched)", name
            )
    weeks = float(data.iv_interval_weeks or 0)
    interval = data.interval_days
    if interval is None:
        if data.product != catalog.scig.hyqvia.product:
            raise InvalidInput(
                "interval_days: required for a subcutaneous plan (1 daily, 7 weekly, 14 every two weeks)",
                "interval_days",
            )
        interval = round(weeks * 7)
    request = ScigRequest(
        product_id=data.product,
        previous_iv_dose_g=float(data.previous_iv_dose_g or 0),
        iv_interval_weeks=weeks,
        interval_days=interval,
        weight_kg=data.weight_kg,
        age_years=data.age_years,
        infusion_number=data.infusion_number or 1,  # the first infusion (the label's slowest limits)
    )
    context = ScigContext(
        indication=data.indication,
        phase=data.phase,
        risks=tuple(data.risk),
        iga_deficient_with_antibodies=data.iga_deficient_with_antibodies,
        pregnant=data.pregnant,
        override_reason=data.override_reason,
        sex=data.sex,
        height_cm=data.height_cm,
    )
    try:
        return plan_sc(request, catalog, context)
    except ScigInputError as exc:
        field = {"product_id": "product"}.get(exc.field, exc.field)
        raise InvalidInput(f"{field}: {exc.message}", field) from None
