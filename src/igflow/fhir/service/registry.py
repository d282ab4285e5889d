"""The resource types served: permissions, search parameters and where their rows come from.

Each type needs the permission of the data behind it: the same one igflow's own API asks for that data.
"""

from __future__ import annotations

from igflow.fhir.bulk.group import group_sources
from igflow.fhir.service.appointments import appointment_sources
from igflow.fhir.service.audit_events import audit_event_sources
from igflow.fhir.service.claims import claim_response_sources, claim_sources
from igflow.fhir.service.directory import location_sources, organization_sources, practitioner_sources
from igflow.fhir.service.dispenses import medication_dispense_sources
from igflow.fhir.service.engine import Kind, SearchParam
from igflow.fhir.service.infusions import adverse_event_sources, medication_administration_sources
from igflow.fhir.service.observations import observation_sources
from igflow.fhir.service.orders import medication_request_sources
from igflow.fhir.service.patients import coverage_sources, patient_sources
from igflow.fhir.service.schedules import schedule_sources, slot_sources
from igflow.fhir.service.tasks import task_sources
from igflow.security.permissions import Perm

PATIENT = SearchParam("patient", "reference", "The patient (Patient/123 or 123)")
P = SearchParam

KINDS: tuple[Kind, ...] = (
    Kind(
        "Patient",
        Perm.PATIENT_READ,
        Perm.PATIENT_LIST,
        (
            P("identifier", "token", "MRN, as urn:igflow:mrn|MRN or MRN alone (case-insensitive)"),
            P("name", "string", "A family or given name starting with the value (any case)"),
            P("birthdate", "date", "Date of birth; eq, ge, gt, le, lt; YYYY, YYYY-MM or YYYY-MM-DD"),
        ),
        patient_sources,
        "patient_id",
        versioned=True,
        documentation="Demographics and contact details. meta.versionId and the ETag are the row's version.",
    ),
    Kind(
        "Practitioner",
        Perm.DIRECTORY_READ,
        Perm.DIRECTORY_READ,
        (
            P("identifier", "token", "NPI, as http://hl7.org/fhir/sid/us-npi|NPI or NPI alone"),
            P("name", "string", "A word of the name starting with the value"),
        ),
        practitioner_sources,
        "prescriber_id",
        patient_data=False,
        documentation="Prescribers of the directory.",
    ),
    Kind(
        "Organization",
        Perm.DIRECTORY_READ,
        Perm.DIRECTORY_READ,
        (),
        organization_sources,
        "organization_id",
        patient_data=False,
        documentation="The organisation (org-N) and the payers of the directory (payer-N).",
    ),
    Kind(
        "Location",
        Perm.SITE_READ,
        Perm.SITE_READ,
        (
            P("name", "string", "A word of a site's name starting with the value"),
            P("partof", "reference", "The chairs of a site (Location/site-N)"),
        ),
        location_sources,
        "location_id",
        patient_data=False,
        documentation="Sites (site-N) and their chairs (chair-N, partOf their site): the shared directory.",
    ),
    Kind(
        "Coverage",
        Perm.COVERAGE_READ,
        Perm.COVERAGE_READ,
        (PATIENT, P("beneficiary", "reference", "The patient covered")),
        coverage_sources,
        "coverage_id",
        documentation="Insurance coverages; cost sharing and copay assistance are not sent (no currency).",
    ),
    Kind(
        "MedicationRequest",
        Perm.ORDER_READ,
        Perm.ORDER_READ,
        (PATIENT,),
        medication_request_sources,
        "order_id",
        documentation="Orders, with the dosage of the plan version a pharmacist verified (if one is now).",
    ),
    Kind(
        "MedicationDispense",
        Perm.INVENTORY_READ,
        Perm.INVENTORY_READ,
        (PATIENT,),
        medication_dispense_sources,
        "dispense_id",
        documentation="Vials of one lot dispensed for one appointment ({appointment}-{lot}), net of returns, "
        "with lot number and expiry.",
    ),
    Kind(
        "MedicationAdministration",
        Perm.INFUSION_READ,
        Perm.INFUSION_READ,
        (
            PATIENT,
            P("effective-time", "date", "The day the infusion started (UTC)"),
            P("date", "date", "Same as effective-time (its R5 name)"),
        ),
        medication_administration_sources,
        "record_id",
        documentation="Infusion records from their start, with every rate charted (rate-step extension).",
    ),
    Kind(
        "Observation",
        Perm.PATIENT_CLINICAL_READ,
        Perm.PATIENT_CLINICAL_READ,
        (
            PATIENT,
            P("code", "token", "A coding of the Observation: LOINC or igflow's measure code system"),
            P("date", "date", "The date measured (vital signs: the charting time, UTC)"),
        ),
        observation_sources,
        "observation_id",
        documentation="Measurements; outcome readings for users who may read outcomes; vital signs charted "
        "at the chair for users who may read infusion records.",
    ),
    Kind(
        "AdverseEvent",
        Perm.INFUSION_READ,
        Perm.INFUSION_READ,
        (
            P("subject", "reference", "The patient (Patient/123 or 123)"),
            P("date", "date", "When the reaction happened (UTC)"),
        ),
        adverse_event_sources,
        "adverse_event_id",
        documentation="Infusion reactions with their CTCAE grade (ctcae-grade extension).",
    ),
    Kind(
        "Appointment",
        Perm.SCHEDULE_READ,
        Perm.SCHEDULE_READ,
        (
            PATIENT,
            P("date", "date", "The appointment's date at its site"),
            P("location", "reference", "A site (Location/site-N) or a chair (Location/chair-N)"),
            P("status", "token", "booked, fulfilled, cancelled, noshow (other R4 codes match nothing)"),
        ),
        appointment_sources,
        "appointment_id",
        documentation="Booked sessions of courses, at a centre's chair or at home.",
    ),
    # --- chairs' schedules and free slots, work queues, prior authorisation, the audit log -----------------
    Kind(
        "Schedule",
        Perm.SCHEDULE_READ,
        Perm.SCHEDULE_READ,
        (P("actor", "reference", "The chair (Location/chair-N)"),),
        schedule_sources,
        "schedule_id",
        patient_data=False,
        documentation="One per chair of the centres the user may see (chair-N, the chair's Location id); the "
        "comment gives the centre's opening hours; planningHorizon is the default Slot search window.",
    ),
    Kind(
        "Slot",
        Perm.SCHEDULE_READ,
        Perm.SCHEDULE_READ,
        (
            P("schedule", "reference", "The chair's Schedule (Schedule/chair-N)"),
            P(
                "start",
                "date",
                "The slot's site-local date (eq, ge, gt, le, lt); default the 7 days from "
                "today, at most 31 days per search",
            ),
            P("status", "token", "free (only free slots are served)"),
        ),
        slot_sources,
        "slot_id",
        patient_data=False,
        documentation="Free steps of the booking grid on a chair (chair-N-YYYYMMDD-HHMM, site-local start): "
        "the centre open, the chair not booked, the nurses on duty with room for one more patient. Busy "
        "slots are not served (they are other patients' appointments).",
    ),
    Kind(
        "Task",
        Perm.INFUSION_READ,
        Perm.INFUSION_READ,
        (PATIENT, P("status", "token", "ready (open) or completed (done)")),
        task_sources,
        "task_id",
        documentation="Tasks of the work queues the user works (as igflow's task list), open and done; the "
        "queue is performerType. The task's working detail and recorded outcome are not sent.",
    ),
    Kind(
        "Claim",
        Perm.PRIOR_AUTH_READ,
        Perm.PRIOR_AUTH_READ,
        (PATIENT,),
        claim_sources,
        "request_id",
        documentation="Prior-authorisation requests: the Claim of the Da Vinci PAS export, its references "
        "pointing at this server's resources; the id is the request's.",
    ),
    Kind(
        "ClaimResponse",
        Perm.PRIOR_AUTH_READ,
        Perm.PRIOR_AUTH_READ,
        (PATIENT,),
        claim_response_sources,
        "request_id",
        documentation="The payer's recorded decision on a request (pended or decided), in the shape igflow's "
        "PAS import reads; the id is the request's.",
    ),
    Kind(
        "AuditEvent",
        Perm.AUDIT_READ,
        Perm.AUDIT_READ,
        (PATIENT, P("date", "date", "When the row was written (UTC)")),
        audit_event_sources,
        "audit_event_id",
        documentation="The audit log, for auditors (read-only): who, when, what action on which record and "
        "patient, and the outcome; the row's detail, the client address and the hash chain are not sent. "
        "An auditor limited to some sites sees only rows about their sites' patients.",
    ),
    Kind(
        "Group",
        Perm.PATIENT_LIST,
        Perm.PATIENT_LIST,
        (),
        group_sources,
        "group_id",
        documentation="The patients of a centre (site-N), for Bulk Data group-level $export; actual groups "
        "with one member per patient the requester may see.",
    ),
)
BY_NAME = {kind.name: kind for kind in KINDS}
