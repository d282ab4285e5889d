"""Patient: identity, demographics and contact details (screening flags stay out of the resource)."""

from __future__ import annotations

from fhir.resources.R4B.patient import Patient as FhirPatient

from igflow.fhir.codes import IDENTIFIER_TYPE, MRN_SYSTEM
from igflow.fhir.mapping.common import instant, pruned
from igflow.patients.models import Patient

#: igflow's sex column holds FHIR AdministrativeGender codes already.
GENDERS = frozenset({"female", "male", "other", "unknown"})


def to_patient(patient: Patient) -> FhirPatient:
    telecom = [{"system": "phone", "value": patient.phone}, {"system": "email", "value": patient.email}]
    return FhirPatient.model_validate(
        pruned(
            {
                "resourceType": "Patient",
                "id": str(patient.id),
                "meta": {"versionId": str(patient.version), "lastUpdated": instant(patient.updated_at)},
                "identifier": [
                    {
                        "use": "usual",
                        "type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "MR"}]},
                        "system": MRN_SYSTEM,
                        "value": patient.mrn,
                    }
                ],
                "active": True,
                "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
                "telecom": [t for t in telecom if t["value"]],
                "gender": patient.sex if patient.sex in GENDERS else "unknown",
                "birthDate": patient.date_of_birth,
                "address": [{"text": patient.address}] if patient.address else [],
            }
        )
    )
