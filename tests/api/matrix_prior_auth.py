"""Role-matrix rows for coverage and prior authorisation (imported by test_role_matrix.py).

The prior-authorisation specialist's routes are added to these rows (and to the older ones) from the
reviewed list ``PRIOR_ALLOWED`` in test_role_matrix.py; ``SPECIALIST_ONLY`` rows are the specialist's
alone."""

from __future__ import annotations

from typing import Any

from tests.conftest import World

PHARM, INTAKE, PRESC, NURSE = "pharmacist", "intake", "prescriber", "nurse"
READ = {PHARM, INTAKE, PRESC}  # prior_auth.read and coverage.read, besides the specialist
SPECIALIST_ONLY: set[str] = set()
CLINICAL = {PHARM, NURSE, INTAKE, PRESC}

PRIOR_AUTH_MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/api/v1/patients/{ann}/coverages", READ),
    ("POST", "/api/v1/patients/{ann}/coverages", {INTAKE}),
    ("POST", "/api/v1/coverages/{coverage}/end", {INTAKE}),
    ("GET", "/api/v1/prior-auth/queue", READ),
    ("GET", "/api/v1/prior-auth/expiring", READ),
    ("GET", "/api/v1/patients/{ann}/prior-auth", READ),
    ("POST", "/api/v1/prior-auth", SPECIALIST_ONLY),
    ("GET", "/api/v1/prior-auth/{pa}", READ),
    ("PUT", "/api/v1/prior-auth/{pa}/requested", SPECIALIST_ONLY),
    ("POST", "/api/v1/prior-auth/{pa}/attestations", SPECIALIST_ONLY),
    ("POST", "/api/v1/prior-auth/{pa}/ready", SPECIALIST_ONLY),
    ("POST", "/api/v1/prior-auth/{pa}/draft", SPECIALIST_ONLY),
    ("POST", "/api/v1/prior-auth/{pa}/submit", SPECIALIST_ONLY),
    ("POST", "/api/v1/prior-auth/{pa}/decision", SPECIALIST_ONLY),
    ("POST", "/api/v1/prior-auth/{pa}/appeal", SPECIALIST_ONLY),
    ("POST", "/api/v1/prior-auth/{pa}/appeal-decision", SPECIALIST_ONLY),
    ("POST", "/api/v1/prior-auth/{pa}/withdraw", SPECIALIST_ONLY),
    ("GET", "/api/v1/prior-auth/{pa}/pas-bundle", READ),
    ("POST", "/api/v1/prior-auth/{pa}/pas-response", SPECIALIST_ONLY),
    ("GET", "/api/v1/patients/{ann}/prior-therapies", CLINICAL),
    ("POST", "/api/v1/patients/{ann}/prior-therapies", READ),
    ("PUT", "/api/v1/referral-documents/{document}/category", SPECIALIST_ONLY),
    ("GET", "/prior-auth", READ),
    ("GET", "/prior-auth/payers", READ),
    ("POST", "/prior-auth/payers/{payer}", {INTAKE}),
    ("PUT", "/api/v1/payers/{payer}/prior-auth-settings", {INTAKE}),
    ("GET", "/prior-auth/{pa}", READ),
    ("POST", "/prior-auth/{pa}/requested", SPECIALIST_ONLY),
    ("POST", "/prior-auth/{pa}/attest", SPECIALIST_ONLY),
    ("POST", "/prior-auth/{pa}/move", SPECIALIST_ONLY),
    ("POST", "/prior-auth/{pa}/decision", SPECIALIST_ONLY),
    ("POST", "/prior-auth/{pa}/appeal-decision", SPECIALIST_ONLY),
    ("POST", "/prior-auth/{pa}/pas-response", SPECIALIST_ONLY),
    ("GET", "/prior-auth/{pa}/pas-bundle.json", READ),
    ("POST", "/prior-auth/{pa}/letter", SPECIALIST_ONLY),
    ("GET", "/prior-auth/letters/{pa_letter}.pdf", READ),
    ("POST", "/patients/{ann}/coverages", {INTAKE}),
    ("POST", "/patients/{ann}/prior-auth", SPECIALIST_ONLY),
    ("POST", "/patients/{ann}/prior-therapies", READ),
    ("POST", "/referral-documents/{document}/category", SPECIALIST_ONLY),
]


def prior_auth_ids(world: World, ids: dict[str, Any]) -> dict[str, int]:
    """A payer, a coverage of Ann, a draft request on her order, and a stored letter."""
    from igflow.authorizations.models import PriorAuthLetter, PriorAuthRequest
    from igflow.directory.models import Payer
    from igflow.patients.models import Coverage

    with world.db.session() as session:
        payer = Payer(code="matrix-payer", name="Matrix payer")
        session.add(payer)
        session.flush()
        coverage = Coverage(
            patient_id=ids["ann"], payer_id=payer.id, member_id="M-1", benefit="medical", rank=1
        )
        session.add(coverage)
        session.flush()
        request = PriorAuthRequest(
            patient_id=ids["ann"],
            order_id=ids["order"],
            coverage_id=coverage.id,
            policy_id="generic",
            created_by_user_id=world.users["admin"],
            attestations={},
        )
        session.add(request)
        session.flush()
        letter = PriorAuthLetter(
            request_id=request.id,
            patient_id=ids["ann"],
            size_bytes=9,
            sha256="0" * 64,
            content=b"%PDF-1.4\n",
            created_by_user_id=world.users["admin"],
        )
        session.add(letter)
        session.commit()
        return {"coverage": coverage.id, "pa": request.id, "pa_letter": letter.id, "payer": payer.id}
