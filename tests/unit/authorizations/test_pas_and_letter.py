"""The Da Vinci PAS request Bundle, reading a PAS answer back, and the letter of medical necessity.

Synthetic patients only (obviously fake names). Answers are built here by :func:`response_bundle`, shaped
like PAS 2.1's own ClaimResponse examples (reviewAction on item.adjudication).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igflow.authorizations.core import (
    CoverageView,
    DocumentFact,
    PacketItem,
    PacketView,
    PartyView,
    PatientView,
    PlanFacts,
    ReadingFact,
    TherapyFact,
)
from igflow.authorizations.letter import FOOTER, letter_pdf
from igflow.authorizations.pas import (
    EXT_ITEM_AUTHORIZED_DETAIL,
    EXT_ITEM_PREAUTH_PERIOD,
    EXT_REVIEW_ACTION,
    EXT_REVIEW_ACTION_CODE,
    ICD10_CM,
    US_NPI,
    X12_REVIEW_ACTION,
    PasError,
    read_response,
    request_bundle,
    validate_bundle,
)

UTC = dt.UTC


def make_view(**changes: Any) -> PacketView:
    view = PacketView(
        request_id=4711,
        kind="initial",
        urgency="standard",
        status="ready",
        created_at=dt.datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        submitted_at=None,
        patient=PatientView(
            patient_id=17,
            mrn="MRN-TEST-0001",
            family_name="Testpatient",
            given_name="Zelda",
            date_of_birth=dt.date(1961, 7, 14),
            sex="female",
        ),
        coverage=CoverageView(
            payer_code="acme-health",
            payer_name="Acme Health Plan (synthetic)",
            plan_name="Acme Gold PPO",
            member_id="ZZT000123456",
            group_number="GRP-0042",
            rank=1,
            benefit="medical",
            effective_from=dt.date(2026, 1, 1),
            effective_to=dt.date(2026, 12, 31),
        ),
        prescriber=PartyView(name="Dr. Quentin Placeholder, MD", identifier="1234567893", phone="555-0100"),
        prescriber_specialty="Neurology",
        organisation=PartyView(
            name="Example Infusion Pharmacy",
            identifier="1999999984",
            phone="555-0199",
            address="1 Sample Street, Springfield, ZZ 00000",
        ),
        facility=PartyView(name="Example Infusion Centre", address="2 Sample Street, Springfield"),
        icd10_code="G61.81",
        diagnosis_text="Chronic inflammatory demyelinating polyneuritis",
        indication_name="CIDP",
        plan=PlanFacts(
            product_id="gamunex-c",
            product_name="Gamunex-C 10%",
            dose_g_per_cycle=140.0,
            days_per_cycle=2,
            cycles=6,
            interval_weeks=3.0,
            site_of_care="facility",
        ),
        requested_grams=840.0,
        requested_infusions=12,
        requested_start=dt.date(2026, 3, 9),
        requested_end=dt.date(2026, 6, 30),
        hcpcs_code=None,
        items=(
            PacketItem("dx", "diagnosis_code", "ICD-10 diagnosis", True, "G61.81 CIDP", ""),
            PacketItem("ncs", "document", "Nerve conduction study report", True, "ncs-2026-01.pdf", ""),
            PacketItem(
                "incat",
                "outcome_measure",
                "Baseline INCAT score",
                False,
                "",
                "No result on record. A nurse records it.",
            ),
        ),
        readings=(
            ReadingFact("grip", "Grip strength (right)", 38.5, "kPa", dt.date(2026, 2, 20)),
            ReadingFact("mrc", "MRC sum score", 48.0, "", dt.date(2026, 2, 20)),
        ),
        therapies=(
            TherapyFact("Prednisone", dt.date(2025, 6, 1), dt.date(2025, 11, 1), "insufficient response"),
        ),
        documents=(DocumentFact(901, "ncs-2026-01.pdf", "nerve_conduction"),),
        response_summary="",
        previous_reference="",
        policy_name="Acme IVIG policy (synthetic)",
        generated_at=dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
    )
    return dataclasses.replace(view, **changes)


def claim_of(bundle: dict[str, Any]) -> dict[str, Any]:
    return bundle["entry"][0]["resource"]


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def by_type(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


# --- answers (test-only builder) ----------------------------------------------------------------------


def response_bundle(
    request: dict[str, Any],
    *,
    code: str | None = "A1",
    reference: str | None = "default",
    outcome: str = "complete",
    pre_auth_ref: str | None = "AUTH-0001",
    grams: float | None = None,
    visits: int | None = None,
    period: tuple[str, str] | None = ("2026-03-09", "2026-06-30"),
    item_period: bool = False,
    reason: str | None = None,
    disposition: str | None = None,
    errors: list[str] | None = None,
) -> dict[str, Any]:
    """A PAS response Bundle answering ``request`` (a request Bundle built by request_bundle)."""
    claim_url = request["entry"][0]["fullUrl"]
    action: dict[str, Any] = {"url": EXT_REVIEW_ACTION, "extension": []}
    if code is not None:
        action["extension"].append(
            {
                "url": EXT_REVIEW_ACTION_CODE,
                "valueCodeableConcept": {"coding": [{"system": X12_REVIEW_ACTION, "code": code}]},
            }
        )
    if reason:
        action["extension"].append({"url": "reasonCode", "valueCodeableConcept": {"text": reason}})
    item: dict[str, Any] = {
        "itemSequence": 1,
        "adjudication": [
            {
                "category": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": "submitted"}
                    ]
                },
                "extension": [action] if action["extension"] else [],
            }
        ],
    }
    detail: list[dict[str, Any]] = []
    if grams is not None:
        detail.append({"url": "quantity", "valueQuantity": {"value": grams, "unit": "g"}})
    if visits is not None:
        detail.append({"url": "quantity", "valueQuantity": {"value": visits, "code": "VS", "unit": "visits"}})
    extensions = []
    if detail:
        extensions.append({"url": EXT_ITEM_AUTHORIZED_DETAIL, "extension": detail})
    if period and item_period:
        extensions.append(
            {"url": EXT_ITEM_PREAUTH_PERIOD, "valuePeriod": {"start": period[0], "end": period[1]}}
        )
    if extensions:
        item["extension"] = extensions
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": "answer-1",
        "status": "active",
        "type": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]
        },
        "use": "preauthorization",
        "patient": {"reference": request["entry"][1]["fullUrl"]},
        "created": "2026-03-04T12:00:00+00:00",
        "insurer": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"},
        "outcome": outcome,
        "item": [item],
    }
    if reference == "default":
        response["request"] = {"reference": claim_url}
    elif reference is not None:
        response["request"] = {"reference": reference}
    if pre_auth_ref:
        response["preAuthRef"] = pre_auth_ref
    if period and not item_period:
        response["preAuthPeriod"] = {"start": period[0], "end": period[1]}
    if disposition:
        response["disposition"] = disposition
    if errors:
        response["error"] = [
            {"code": {"coding": [{"system": "https://codesystem.x12.org/005010/901", "code": c}]}}
            for c in errors
        ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": "2026-03-04T12:00:00+00:00",
        "entry": [
            {"fullUrl": "urn:uuid:00000000-0000-4000-8000-00000000abcd", "resource": response},
            {"fullUrl": request["entry"][1]["fullUrl"], "resource": request["entry"][1]["resource"]},
        ],
    }


# --- the request Bundle -------------------------------------------------------------------------------


def test_request_bundle_validates_and_is_a_pas_preauthorization() -> None:
    bundle = request_bundle(make_view())
    validate_bundle(bundle)
    assert bundle["type"] == "collection"
    assert bundle["meta"]["profile"] == [
        "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-pas-request-bundle|2.1.0"
    ]
    claim = claim_of(bundle)
    assert claim["resourceType"] == "Claim"
    assert claim["use"] == "preauthorization"
    assert claim["status"] == "active"
    assert claim["type"]["coding"][0]["code"] == "professional"
    assert claim["insurance"] == [
        {"sequence": 1, "focal": True, "coverage": {"reference": bundle["entry"][2]["fullUrl"]}}
    ]
    assert claim["diagnosis"][0]["diagnosisCodeableConcept"]["coding"] == [
        {"system": ICD10_CM, "code": "G61.81"}
    ]
    item = claim["item"][0]
    assert item["quantity"] == {"value": 840, "unit": "g"}
    assert item["servicedPeriod"] == {"start": "2026-03-09", "end": "2026-06-30"}
    # no HCPCS code in the catalog: the product is a text-only CodeableConcept
    assert item["productOrService"] == {"text": "Gamunex-C 10%"}
    assert {r["resourceType"] for r in (e["resource"] for e in bundle["entry"])} == {
        "Claim",
        "Patient",
        "Coverage",
        "Organization",
        "Practitioner",
        "MedicationRequest",
        "Location",
    }


def test_every_reference_resolves_inside_the_bundle() -> None:
    for view in (make_view(), make_view(prescriber=None, facility=None, kind="continuation")):
        bundle = request_bundle(view)
        urls = {e["fullUrl"] for e in bundle["entry"]}
        assert all(u.startswith("urn:uuid:") for u in urls)
        assert len(urls) == len(bundle["entry"])
        refs = list(_references(bundle))
        assert refs
        assert set(refs) <= urls, set(refs) - urls


def test_parties_and_coverage() -> None:
    bundle = request_bundle(make_view())
    claim = claim_of(bundle)
    urls = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    insurer = urls[claim["insurer"]["reference"]]
    provider = urls[claim["provider"]["reference"]]
    assert insurer["name"] == "Acme Health Plan (synthetic)"
    assert provider["name"] == "Example Infusion Pharmacy"
    assert provider["identifier"] == [{"system": US_NPI, "value": "1999999984"}]
    (practitioner,) = by_type(bundle, "Practitioner")
    assert practitioner["identifier"] == [{"system": US_NPI, "value": "1234567893"}]
    assert practitioner["name"][0]["family"] == "Placeholder"
    assert practitioner["name"][0]["given"] == ["Quentin"]
    (coverage,) = by_type(bundle, "Coverage")
    assert coverage["subscriberId"] == "ZZT000123456"
    assert coverage["payor"] == [{"reference": claim["insurer"]["reference"]}]
    assert coverage["class"][0]["value"] == "GRP-0042"
    assert coverage["class"][0]["type"]["coding"][0]["code"] == "group"
    (med,) = by_type(bundle, "MedicationRequest")
    text = med["dosageInstruction"][0]["text"]
    assert "140 g per cycle" in text and "every 3 weeks" in text and "6 cycles" in text
    assert med["dispenseRequest"]["quantity"]["value"] == 840


def test_a_prescriber_without_npi_has_no_npi_identifier() -> None:
    view = make_view(prescriber=PartyView(name="Dr. Nobody Known"))
    (practitioner,) = by_type(request_bundle(view), "Practitioner")
    assert "identifier" not in practitioner
    validate_bundle(request_bundle(view))


def test_priority_follows_urgency() -> None:
    standard = claim_of(request_bundle(make_view(urgency="standard")))
    expedited = claim_of(request_bundle(make_view(urgency="expedited")))
    assert standard["priority"]["coding"][0]["code"] == "normal"
    assert "extension" not in standard
    assert expedited["priority"]["coding"][0]["code"] == "stat"
    level = expedited["extension"][0]
    assert level["url"].endswith("/extension-levelOfServiceCode")
    assert level["valueCodeableConcept"]["coding"][0]["code"] == "U"


def test_same_view_gives_the_identical_bundle() -> None:
    one = json.dumps(request_bundle(make_view()), sort_keys=True)
    two = json.dumps(request_bundle(make_view()), sort_keys=True)
    assert one == two
    other = request_bundle(make_view(request_id=4712))
    assert other["entry"][0]["fullUrl"] != request_bundle(make_view())["entry"][0]["fullUrl"]


def test_hcpcs_code_is_used_when_known() -> None:
    item = claim_of(request_bundle(make_view(hcpcs_code="J1561")))["item"][0]
    assert item["productOrService"]["coding"] == [
        {"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "J1561"}
    ]


def test_continuation_names_the_authorisation_it_continues() -> None:
    view = make_view(
        kind="continuation", previous_reference="AUTH-2025-77", response_summary="INCAT improved by 2"
    )
    bundle = request_bundle(view)
    validate_bundle(bundle)
    claim = claim_of(bundle)
    assert claim["related"][0]["reference"]["value"] == "AUTH-2025-77"
    summary = claim["supportingInfo"][0]["valueString"]
    assert "INCAT improved by 2" in summary


def test_supporting_info_carries_readings_therapies_and_documents() -> None:
    info = claim_of(request_bundle(make_view()))["supportingInfo"]
    assert info[0]["category"]["coding"][0]["code"] == "freeFormMessage"
    assert "Not yet on file: Baseline INCAT score" in info[0]["valueString"]
    quantities = [i["valueQuantity"] for i in info if "valueQuantity" in i]
    assert {"value": 38.5, "unit": "kPa"} in quantities
    assert any(i.get("valueAttachment", {}).get("title") == "ncs-2026-01.pdf" for i in info)
    assert any("Prednisone" in i.get("code", {}).get("text", "") for i in info)
    assert [i["sequence"] for i in info] == list(range(1, len(info) + 1))


def test_home_infusion_sets_place_of_service_home() -> None:
    plan = make_view().plan
    assert plan is not None
    plan = dataclasses.replace(plan, site_of_care="home")
    item = claim_of(request_bundle(make_view(plan=plan, facility=None)))["item"][0]
    assert item["locationCodeableConcept"]["coding"][0]["code"] == "12"


def test_validate_bundle_refuses_invalid_bundles() -> None:
    bundle = request_bundle(make_view())
    broken = copy.deepcopy(bundle)
    del claim_of(broken)["priority"]
    with pytest.raises(PasError, match="priority"):
        validate_bundle(broken)
    wrong_type = copy.deepcopy(bundle)
    wrong_type["type"] = "transaction"
    with pytest.raises(PasError, match="collection"):
        validate_bundle(wrong_type)
    bad_date = copy.deepcopy(bundle)
    claim_of(bad_date)["created"] = "yesterday"
    with pytest.raises(PasError, match="created"):
        validate_bundle(bad_date)
    with pytest.raises(PasError):
        validate_bundle({"resourceType": "Patient"})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    grams=st.floats(min_value=0.5, max_value=5000, allow_nan=False).map(lambda g: round(g, 1)),
    start=st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2035, 12, 31)),
    days=st.integers(min_value=0, max_value=400),
    urgency=st.sampled_from(["standard", "expedited"]),
)
def test_any_grams_and_dates_validate_and_round_trip(
    grams: float, start: dt.date, days: int, urgency: str
) -> None:
    view = make_view(
        requested_grams=grams,
        requested_start=start,
        requested_end=start + dt.timedelta(days=days),
        urgency=urgency,
    )
    bundle = request_bundle(view)
    validate_bundle(bundle)
    item = claim_of(bundle)["item"][0]
    assert float(item["quantity"]["value"]) == grams
    assert dt.date.fromisoformat(item["servicedPeriod"]["start"]) == start
    assert dt.date.fromisoformat(item["servicedPeriod"]["end"]) == start + dt.timedelta(days=days)
    # an answer approving exactly that comes back with the same figures
    answer = response_bundle(
        bundle, grams=grams, period=(start.isoformat(), (start + dt.timedelta(days=days)).isoformat())
    )
    decision = read_response(answer, request_id=view.request_id)
    assert decision.grams == grams
    assert decision.start_date == start


# --- reading the answer -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("A1", "approved"),
        ("A2", "partially_approved"),
        ("A6", "partially_approved"),
        ("A3", "denied"),
        ("A4", "pended"),
        ("CT", "pended"),
    ],
)
def test_review_action_codes_map_to_outcomes(code: str, outcome: str) -> None:
    request = request_bundle(make_view())
    decision = read_response(response_bundle(request, code=code), request_id=4711)
    assert decision.outcome == outcome


@pytest.mark.parametrize("code", ["C", "NA", "ZZ"])
def test_codes_that_are_no_decision_are_refused(code: str) -> None:
    request = request_bundle(make_view())
    with pytest.raises(PasError):
        read_response(response_bundle(request, code=code), request_id=4711)


def test_approval_figures_are_read_and_missing_ones_stay_none() -> None:
    request = request_bundle(make_view())
    full = read_response(
        response_bundle(
            request, grams=840, visits=12, reason="Meets criteria", disposition="Approved as asked"
        ),
        request_id=4711,
    )
    assert full.payer_reference == "AUTH-0001"
    assert full.grams == 840
    assert full.infusions == 12
    assert full.start_date == dt.date(2026, 3, 9)
    assert full.end_date == dt.date(2026, 6, 30)
    assert "Approved as asked" in full.reason and "Meets criteria" in full.reason
    bare = read_response(response_bundle(request, period=None), request_id=4711)
    assert bare.outcome == "approved"
    assert (bare.grams, bare.infusions, bare.start_date, bare.end_date) == (None, None, None, None)


def test_item_level_period_is_read_when_the_header_has_none() -> None:
    request = request_bundle(make_view())
    decision = read_response(response_bundle(request, item_period=True), request_id=4711)
    assert (decision.start_date, decision.end_date) == (dt.date(2026, 3, 9), dt.date(2026, 6, 30))


def test_a_response_for_another_request_is_refused() -> None:
    request = request_bundle(make_view())
    other = request_bundle(make_view(request_id=9999))
    with pytest.raises(PasError, match="another request"):
        read_response(response_bundle(other), request_id=4711)
    with pytest.raises(PasError, match="another request"):
        read_response(response_bundle(request, reference="Claim/someone-else"), request_id=4711)
    with pytest.raises(PasError, match="which request"):
        read_response(response_bundle(request, reference=None), request_id=4711)


def test_a_response_matched_by_request_identifier() -> None:
    request = request_bundle(make_view())
    answer = response_bundle(request, reference=None)
    answer["entry"][0]["resource"]["request"] = {"identifier": claim_of(request)["identifier"][0]}
    assert read_response(answer, request_id=4711).outcome == "approved"


def test_an_invalid_response_bundle_is_refused() -> None:
    request = request_bundle(make_view())
    answer = response_bundle(request)
    answer["entry"][0]["resource"]["created"] = "not a date"
    with pytest.raises(PasError, match="not valid FHIR"):
        read_response(answer, request_id=4711)
    answer = response_bundle(request)
    answer["entry"][0]["resource"]["unknownElement"] = True
    with pytest.raises(PasError):
        read_response(answer, request_id=4711)
    with pytest.raises(PasError, match="no ClaimResponse"):
        read_response(request, request_id=4711)


def test_rejected_submission_and_unreadable_decision_are_refused() -> None:
    request = request_bundle(make_view())
    with pytest.raises(PasError, match="rejected"):
        read_response(response_bundle(request, code=None, outcome="error", errors=["33"]), request_id=4711)
    with pytest.raises(PasError, match="no review action"):
        read_response(response_bundle(request, code=None), request_id=4711)
    queued = read_response(response_bundle(request, code=None, outcome="queued"), request_id=4711)
    assert queued.outcome == "pended"


def test_mixed_item_answers() -> None:
    request = request_bundle(make_view())
    answer = response_bundle(request, code="A1")
    response = answer["entry"][0]["resource"]
    second = copy.deepcopy(response["item"][0])
    second["itemSequence"] = 2
    second["adjudication"][0]["extension"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = (
        "A3"
    )
    response["item"].append(second)
    assert read_response(answer, request_id=4711).outcome == "partially_approved"
    second["adjudication"][0]["extension"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = (
        "A4"
    )
    assert read_response(answer, request_id=4711).outcome == "pended"


# --- the letter ---------------------------------------------------------------------------------------


def _pdf_text(pdf: bytes) -> str:
    """The text shown by an uncompressed reportlab PDF: the strings of its Tj operators, joined."""
    raw = pdf.decode("latin-1")
    strings = re.findall(r"\((.*?)(?<!\\)\)\s*Tj", raw)
    return "\n".join(s.replace("\\(", "(").replace("\\)", ")") for s in strings)


def test_letter_is_a_pdf_with_the_reviewer_facts() -> None:
    view = make_view()
    pdf = letter_pdf(view, compress=False)
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf)
    assert "Testpatient, Zelda" in text
    assert "G61.81" in text
    assert "140 g, given over 2 days" in text
    assert "840 g" in text
    assert "ZZT000123456" in text
    assert "MRN-TEST-0001" in text
    assert "Baseline INCAT score" in text  # listed as missing
    assert "Prednisone" in text
    assert "ncs-2026-01.pdf" in text
    assert "1234567893" in text  # the prescriber's NPI in the signature block
    assert FOOTER.split(";")[0] in text


def test_letter_is_deterministic_and_compressed_by_default() -> None:
    one = letter_pdf(make_view())
    assert one.startswith(b"%PDF")
    assert one == letter_pdf(make_view())
    assert b"Testpatient" not in one  # compressed streams


def test_letter_for_a_continuation_without_prescriber() -> None:
    view = make_view(
        kind="continuation",
        prescriber=None,
        response_summary="INCAT improved from 5 to 3 after two cycles",
        previous_reference="AUTH-2025-77",
        urgency="expedited",
    )
    text = _pdf_text(letter_pdf(view, compress=False))
    assert "INCAT improved from 5 to 3 after two cycles" in text
    assert "AUTH-2025-77" in text
    assert "Expedited review" in text


def test_letter_escapes_markup_in_names() -> None:
    view = make_view(diagnosis_text="CIDP <b>& friends</b>")
    pdf = letter_pdf(view, compress=False)
    assert pdf.startswith(b"%PDF")
