"""Pure clinical engine: dosing weight, whole-vial doses, titration plans and safety screening.

Entry point for callers (CLI, API, web)::

    from igflow.catalog import load_catalog
    from igflow.clinical import DoseRequest, plan_dose

    plan = plan_dose(DoseRequest(indication="cidp", phase="induction", product="privigen",
                                 weight_kg=110, height_cm=165, sex="female", age_years=50),
                     load_catalog())
    plan.hard_stopped          # True if any alert is a hard stop
    plan.to_contract_dict()    # JSON of shared/contracts/dose.md

``DoseInputError(field, message)`` is raised for invalid input.
"""

from igflow.clinical.alerts import ALERT_CODES, Alert, Severity
from igflow.clinical.engine import plan_dose, validate_request
from igflow.clinical.errors import DoseInputError
from igflow.clinical.models import DayPlan, DosePlan, DoseRequest, Step, VialCount, WeightResult
from igflow.clinical.weight import dosing_weight

__all__ = [
    "ALERT_CODES",
    "Alert",
    "DayPlan",
    "DoseInputError",
    "DosePlan",
    "DoseRequest",
    "Severity",
    "Step",
    "VialCount",
    "WeightResult",
    "dosing_weight",
    "plan_dose",
    "validate_request",
]
