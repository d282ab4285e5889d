"""Appointment: one booked session of a course, at a centre's chair or at the patient's home.

igflow status -> FHIR: booked -> booked, completed -> fulfilled, cancelled -> cancelled, no_show -> noshow.
Start and end carry the site's UTC offset (an appointment's date is the site's local date). Participants:
the patient, the site and, at a centre, the chair (a Location that is partOf the site). The order the
session gives is ``supportingInformation`` (R4's ``basedOn`` takes only a ServiceRequest).
"""

from __future__ import annotations

from fhir.resources.R4B.appointment import Appointment as FhirAppointment

from igflow.appointments.models import Appointment
from igflow.fhir.mapping.common import instant, local_instant, pruned, ref
from igflow.fhir.mapping.location import chair_location_id, site_location_id

STATUSES = {"booked": "booked", "completed": "fulfilled", "cancelled": "cancelled", "no_show": "noshow"}
#: FHIR status -> igflow status, for searches (R4 codes igflow never uses match nothing).
FROM_FHIR = {fhir: ours for ours, fhir in STATUSES.items()}
R4_STATUSES = frozenset(
    {
        "proposed",
        "pending",
        "booked",
        "arrived",
        "fulfilled",
        "cancelled",
        "noshow",
        "entered-in-error",
        "checked-in",
        "waitlist",
    }
)


def to_appointment(
    appointment: Appointment, *, timezone: str, order_id: int | None, day_index: int | None
) -> FhirAppointment:
    start = local_instant(appointment.date, appointment.start_min, timezone)
    end = local_instant(appointment.date, appointment.start_min + appointment.duration_min, timezone)
    participants = [
        {"actor": ref("Patient", appointment.patient_id), "required": "required", "status": "accepted"},
        {
            "actor": ref("Location", site_location_id(appointment.site_id)),
            "required": "required",
            "status": "accepted",
        },
    ]
    if appointment.chair_id is not None:
        participants.append(
            {
                "actor": ref("Location", chair_location_id(appointment.chair_id)),
                "required": "required",
                "status": "accepted",
            }
        )
    status = STATUSES.get(appointment.status, "booked")
    return FhirAppointment.model_validate(
        pruned(
            {
                "resourceType": "Appointment",
                "id": str(appointment.id),
                "meta": {"lastUpdated": instant(appointment.changed_at or appointment.created_at)},
                "status": status,
                "cancelationReason": (
                    {"text": appointment.status_reason}
                    if status in ("cancelled", "noshow") and appointment.status_reason
                    else None
                ),
                "description": f"Immunoglobulin infusion, day {day_index} of the course"
                if day_index
                else None,
                "start": start,
                "end": end,
                "minutesDuration": appointment.duration_min,
                "created": instant(appointment.created_at),
                "supportingInformation": [ref("MedicationRequest", order_id)] if order_id else [],
                "participant": participants,
            }
        )
    )
