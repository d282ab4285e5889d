"""MedicationDispense: the vials of one lot dispensed for one appointment, net of unopened returns.

The id is ``{appointment}-{lot}``. The medication is a contained Medication carrying the lot number and the
lot's label expiry (``batch``) and the vial's grams. A lot fully returned leaves no dispense (nothing was
handed over); vials sent home for self-infusion (no appointment) are not served yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fhir.resources.R4B.medicationdispense import MedicationDispense

from igflow.fhir.codes import PRODUCT, Code
from igflow.fhir.mapping.common import GRAMS, VIALS, concept, instant, pruned, quantity, ref
from igflow.fhir.mapping.location import site_location_id


def dispense_id(appointment_id: int, lot_id: int) -> str:
    return f"{appointment_id}-{lot_id}"


@dataclass(frozen=True)
class DispensedLot:
    appointment_id: int
    lot_id: int
    vials: int  # dispensed minus returned
    first_at: dt.datetime
    patient_id: int
    site_id: int
    order_id: int | None
    product_id: str
    product_name: str
    lot_number: str
    label_expiry: dt.date
    vial_size_g: float


def to_medication_dispense(d: DispensedLot) -> MedicationDispense:
    medication = {
        "resourceType": "Medication",
        "id": "lot",
        "code": concept([Code(PRODUCT, d.product_id, d.product_name)], d.product_name),
        "amount": {
            "numerator": quantity(d.vial_size_g, GRAMS),
            "denominator": quantity(1, VIALS),
        },
        "batch": {"lotNumber": d.lot_number, "expirationDate": d.label_expiry.isoformat()},
    }
    return MedicationDispense.model_validate(
        pruned(
            {
                "resourceType": "MedicationDispense",
                "id": dispense_id(d.appointment_id, d.lot_id),
                "contained": [medication],
                "status": "completed",
                "medicationReference": {"reference": "#lot", "display": d.product_name},
                "subject": ref("Patient", d.patient_id),
                "location": ref("Location", site_location_id(d.site_id)),
                "authorizingPrescription": [ref("MedicationRequest", d.order_id)] if d.order_id else [],
                "quantity": quantity(d.vials, VIALS),
                "whenHandedOver": instant(d.first_at),
                "supportingInformation": [ref("Appointment", d.appointment_id)],
            }
        )
    )
