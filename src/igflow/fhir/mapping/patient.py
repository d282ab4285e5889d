"""Patient: identity, demographics and contact details (screening flags stay out of the resource).

:func:`to_patient` maps the current row; :func:`to_patient_version` maps an earlier version rebuilt from the
patient's change log (:mod:`igflow.fhir.mapping.patient_history`): the same elements, from the values the
record had then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B.patient import Patient as FhirPatient

from igflow.fhir.codes import IDENTIFIER_TYPE, MRN_SYSTEM
from igflow.fhir.mapping.common import instant, pruned
from igflow.patients.models import Patient

#: igflow's sex column holds FHIR AdministrativeGender codes already.
GENDERS = frozenset({"female", "male", "other", "unknown"})
#: The patient's fields this resource shows (and the only ones an update through FHIR may change).
DEMOGRAPHICS = ("given_name", "family_name", "date_of_birth", "sex", "phone", "email", "address")


def demographics(patient: Patient) -> dict[str, Any]:
    return {name: getattr(patient, name) for name in DEMOGRAPHICS}


def to_patient_version(
    ident: int, mrn: str, values: Mapping[str, Any], version: int, last_updated: dt.datetime
) -> FhirPatient:
    """One version of a patient: ``values`` holds the :data:`DEMOGRAPHICS` as they were then."""
    telecom = [{"system": "phone", "value": values["phone"]}, {"system": "email", "value": values["email"]}]
    return FhirPatient.model_validate(
        pruned(
            {
                "resourceType": "Patient",
                "id": str(ident),
                "meta": {"versionId": str(version), "lastUpdated": instant(last_updated)},
                "identifier": [
                    {
                        "use": "usual",
                        "type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "MR"}]},
                        "system": MRN_SYSTEM,
                        "value": mrn,
                    }
                ],
                "active": True,
                "name": [
                    {"use": "official", "family": values["family_name"], "given": [values["given_name"]]}
                ],
                "telecom": [t for t in telecom if t["value"]],
                "gender": values["sex"] if values["sex"] in GENDERS else "unknown",
                "birthDate": values["date_of_birth"],
                "address": [{"text": values["address"]}] if values["address"] else [],
            }
        )
    )


def to_patient(patient: Patient) -> FhirPatient:
    return to_patient_version(
        patient.id, patient.mrn, demographics(patient), patient.version, patient.updated_at
    )
