"""FHIR transaction Bundles into import rows: validated with fhir.resources, codes mapped back through
igflow.fhir.codes; every bad entry reported with its index and reason."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from igflow.fhir.mapping.observation import to_measurement_observation
from igflow.imports.bundle import parse_bundle
from igflow.imports.columns import CoverageRow, MeasurementRow, PatientRow
from igflow.patients.models import Measurement

EXAMPLE = json.loads((Path(__file__).resolve().parents[3] / "docs" / "imports" / "bundle.json").read_text())


def _bundle(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}).encode()


def test_the_example_bundle_maps_to_a_patient_coverage_and_weight() -> None:
    parsed = parse_bundle(json.dumps(EXAMPLE))
    assert parsed.errors == []
    patient, coverage, weight = parsed.rows
    assert isinstance(patient, PatientRow) and patient.data.mrn == "EXM-0101" and patient.site_code == "north"
    assert patient.data.family_name == "Lindqvist" and patient.data.phone == "+1 503 555 0142"
    assert isinstance(coverage, CoverageRow) and (coverage.mrn, coverage.payer_code) == (
        "EXM-0101",
        "acme-health",
    )
    assert coverage.data.member_id == "W555000111" and str(coverage.data.effective_from) == "2026-01-01"
    assert isinstance(weight, MeasurementRow) and (weight.kind, weight.value) == ("weight_kg", 64.2)


def test_an_observation_igflow_exports_maps_back_to_the_same_measurement() -> None:
    from datetime import UTC, date, datetime

    m = Measurement(
        id=5,
        patient_id=9,
        kind="creatinine_umol_per_l",
        value=88.0,
        measured_on=date(2026, 11, 1),
        recorded_at=datetime(2026, 11, 1, tzinfo=UTC),
        note="",
    )
    resource = to_measurement_observation(m, label="Serum creatinine", unit_text="µmol/L", corrected_by=None)
    data = resource.model_dump(mode="json", exclude_none=True)
    data["subject"] = {"reference": "Patient?identifier=urn:igflow:mrn|TST0001"}
    parsed = parse_bundle(_bundle({"resource": data, "request": {"method": "POST", "url": "Observation"}}))
    assert parsed.errors == []
    (row,) = parsed.rows
    assert isinstance(row, MeasurementRow)
    assert (row.mrn, row.kind, row.value, row.measured_on) == (
        "TST0001",
        "creatinine_umol_per_l",
        88.0,
        m.measured_on,
    )


def test_every_bad_entry_is_reported_with_its_index_and_reason() -> None:
    entries = copy.deepcopy(EXAMPLE["entry"])
    unknown = copy.deepcopy(entries[2])
    unknown["resource"]["code"] = {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]}  # glucose
    wrong_unit = copy.deepcopy(entries[2])
    wrong_unit["resource"]["valueQuantity"] = {
        "value": 141,
        "system": "http://unitsofmeasure.org",
        "code": "[lb_av]",
    }
    invalid = copy.deepcopy(entries[0])
    invalid["resource"]["birthDate"] = "17/05/1979"
    no_site = copy.deepcopy(entries[0])
    del no_site["resource"]["managingOrganization"]
    orphan = copy.deepcopy(entries[1])
    orphan["resource"]["beneficiary"] = {"reference": "Patient/12"}
    medication = {
        "resource": {"resourceType": "Medication"},
        "request": {"method": "POST", "url": "Medication"},
    }
    parsed = parse_bundle(_bundle(*entries, unknown, wrong_unit, invalid, no_site, orphan, medication))
    assert len(parsed.rows) == 3
    reasons = {e.line: e.reason for e in parsed.errors}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8]
    assert "http://loinc.org|2345-7 is not a measure igflow records" in reasons[3]
    assert "unit '[lb_av]'" in reasons[4]
    assert reasons[5].startswith("Patient: not a valid FHIR Patient") and "birthDate" in reasons[5]
    assert "names no home site" in reasons[6]
    assert reasons[7].startswith("Coverage: beneficiary")
    assert "only Patient, Coverage and Observation" in reasons[8]


def test_only_a_transaction_bundle_is_taken() -> None:
    assert "transaction" in parse_bundle(b'{"resourceType": "Bundle", "type": "searchset"}').errors[0].reason
    assert "not JSON" in parse_bundle(b"mrn,family_name").errors[0].reason
    assert "not a FHIR Bundle" in parse_bundle(b'{"resourceType": "Patient"}').errors[0].reason


def test_the_bundle_envelope_is_validated_too() -> None:
    bad = {"resourceType": "Bundle", "type": "transaction", "entry": [{"request": {"method": "POST"}}]}
    (error,) = parse_bundle(json.dumps(bad)).errors
    assert error.line == 0 and error.reason.startswith("not a valid FHIR Bundle") and "url" in error.reason
