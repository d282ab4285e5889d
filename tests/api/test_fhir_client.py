"""A maintained FHIR client (SMART on FHIR's ``fhirclient``, R4 4.0.1 models) against a live igflow server:
it reads the CapabilityStatement, a patient, and follows the search pages to the end, with an igflow API
token. Its models are R4's own (not R4B's), so this also checks the wire format against R4."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from tests.api.test_fhir_api import FHIR, TYPES, charted_world
from tests.api.test_fhir_search import _patients
from tests.conftest import World

fhirclient = pytest.importorskip("fhirclient", reason="fhirclient is a dev dependency (pyproject [dev])")
from fhirclient import client as fhir_client  # noqa: E402
from fhirclient.models.observation import Observation  # noqa: E402
from fhirclient.models.patient import Patient  # noqa: E402


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_fhirclient_reads_a_patient_and_follows_the_pages(world: World) -> None:
    made = _patients(world, 5)
    issued = world.client("admin").post(
        "/api/v1/tokens", json={"user_id": world.users["svc"], "name": "fhirclient", "roles": ["pharmacist"]}
    )
    assert issued.status_code == 201, issued.text
    with live_server(world.app) as base:
        smart = fhir_client.FHIRClient(settings={"app_id": "igflow-test", "api_base": f"{base}/fhir/R4"})
        smart.server.session.headers["Authorization"] = f"Bearer {issued.json()['token']}"
        statement = smart.server.capabilityStatement
        assert statement.fhirVersion == "4.0.1"
        assert {r.type for r in statement.rest[0].resource} >= {"Patient", "Observation", "Appointment"}
        ann = Patient.read(str(world.patients["ann"]), smart.server)
        assert ann.name[0].family == "Northwood" and ann.identifier[0].value == "TST0001"
        search = Patient.where(struct={"name": "paging", "_count": "2"})
        found = [p.id for p in search.perform_resources_iter(smart.server)]
        assert sorted(found) == sorted(str(i) for i in made)  # three pages of 2, 2 and 1
        weight = world.client("nurse").post(
            f"/api/v1/patients/{world.patients['ann']}/measurements",
            json={"kind": "weight_kg", "value": 61, "measured_on": "2026-11-01"},
        )
        assert weight.status_code == 201
        query = Observation.where(struct={"patient": str(world.patients["ann"])})
        observations = list(query.perform_resources_iter(smart.server))
        assert [o.code.coding[0].code for o in observations] == ["29463-7"]


def test_every_resource_type_parses_with_the_r4_models_of_fhirclient(world: World) -> None:
    """fhirclient's models are generated from R4 (4.0.1) and refuse unknown elements (strict): what igflow
    validated with fhir.resources' R4B models is R4 on the wire too."""
    from fhirclient.models.bundle import Bundle

    charted_world(world)
    pharmacist = world.client("pharmacist")
    for kind in TYPES:
        bundle = Bundle(pharmacist.get(f"{FHIR}/{kind}?_count=200").json(), strict=True)
        assert bundle.total and all(e.resource.resource_type == kind for e in bundle.entry), kind
