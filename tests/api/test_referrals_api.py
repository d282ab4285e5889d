"""Referral intake through the API: validation against the catalog, documents, decisions."""

from __future__ import annotations

from typing import Any

from tests.conftest import World

PDF = b"%PDF-1.4\n% synthetic referral letter\n"


def _referral(world: World, **changes: Any) -> Any:
    body = {
        "patient_id": world.patients["ann"],
        "received_on": "2026-11-02",
        "prescriber_id": world.prescriber_id,
        "icd10_code": "G61.81",
        "diagnosis_text": "CIDP, progressive weakness",
        "indication_id": "cidp",
        "urgency": "soon",
        **changes,
    }
    return world.client("intake").post("/api/v1/referrals", json=body)


def test_referral_intake_and_decision_flow(world: World) -> None:
    created = _referral(world)
    assert created.status_code == 201, created.text
    referral = created.json()
    assert referral["status"] == "new"
    pharmacist = world.client("pharmacist")
    url = f"/api/v1/referrals/{referral['id']}/decision"
    review = pharmacist.put(url, json={"status": "in_review", "version": referral["version"]})
    assert review.status_code == 200
    stale = pharmacist.put(url, json={"status": "accepted", "version": referral["version"]})
    assert stale.status_code == 409
    declined = pharmacist.put(url, json={"status": "declined", "version": review.json()["version"]})
    assert declined.status_code == 422 and declined.json()["field"] == "reason"
    accepted = pharmacist.put(url, json={"status": "accepted", "version": review.json()["version"]})
    assert accepted.json()["status"] == "accepted"
    wrong_move = pharmacist.put(url, json={"status": "new", "version": accepted.json()["version"]})
    assert wrong_move.status_code == 409
    assert "is accepted and cannot become new" in wrong_move.json()["detail"]
    assert "it can become in review" in wrong_move.json()["detail"]


def test_unknown_indication_lists_the_valid_ids(world: World) -> None:
    response = _referral(world, indication_id="headache")
    assert response.status_code == 422
    assert response.json()["field"] == "indication_id"
    assert "cidp" in response.json()["detail"] and "kawasaki" in response.json()["detail"]


def test_bad_icd10_and_unknown_prescriber_are_named(world: World) -> None:
    bad_code = _referral(world, icd10_code="cidp")
    assert bad_code.status_code == 422 and "icd10_code" in bad_code.json()["detail"]
    no_prescriber = _referral(world, prescriber_id=9999)
    assert no_prescriber.status_code == 404 and no_prescriber.json()["field"] == "prescriber_id"


def test_documents_are_type_checked_by_content_and_size_limited(world: World) -> None:
    referral = _referral(world).json()
    intake = world.client("intake")
    url = f"/api/v1/referrals/{referral['id']}/documents"
    ok = intake.post(url, files={"file": ("letter.pdf", PDF, "application/pdf")})
    assert ok.status_code == 201, ok.text
    assert ok.json()["content_type"] == "application/pdf"
    disguised = intake.post(
        url, files={"file": ("letter.pdf", b"MZ\x90\x00 an executable", "application/pdf")}
    )
    assert disguised.status_code == 422
    assert "PDF, PNG, JPEG or TIFF" in disguised.json()["detail"]
    world.app.state.settings.max_upload_bytes = 1024
    big = intake.post(url, files={"file": ("big.pdf", PDF + b"0" * 2048, "application/pdf")})
    assert big.status_code == 422 and "over the limit" in big.json()["detail"]
    download = world.client("nurse").get(f"{url}/{ok.json()['id']}")
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-disposition"].startswith("attachment")
