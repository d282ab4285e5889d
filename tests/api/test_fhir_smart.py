"""SMART Backend Services on /fhir/R4: a registered client signs an assertion (RS384 or ES384), gets a
five-minute bearer token, and reads within its scopes, the service account's roles and its site limits.

Each refusal of the token flow is tested on its own: a bad signature, an unknown kid, an expired assertion,
one that lives too long, a wrong aud, iss not sub, a reused jti (also two at the same moment, on
PostgreSQL), alg none and HS256, scopes the client may not have, a disabled client; then a token whose
scopes do not cover the request, an expired token, and a site-limited service account.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import select, update

from igflow.fhir.smart import service as smart_service
from igflow.security.models import ApiToken, AuditEvent, User
from tests.conftest import World
from tests.races import needs_concurrency, race

FHIR = "/fhir/R4"
TOKEN_URL = "http://testserver/fhir/R4/auth/token"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP384R1())


def public_jwk(private_key: Any, kid: str) -> dict[str, Any]:
    public = private_key.public_key()
    make = RSAAlgorithm if isinstance(private_key, rsa.RSAPrivateKey) else ECAlgorithm
    jwk = dict(make.to_jwk(public, as_dict=True))
    return {**jwk, "kid": kid}


def register(
    world: World,
    scopes: list[str],
    *,
    user: str = "svc",
    keys: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    keys = keys if keys is not None else [public_jwk(RSA_KEY, "rsa-1"), public_jwk(EC_KEY, "ec-1")]
    response = world.client("admin").post(
        "/api/v1/fhir-clients",
        json={"name": "Lab system", "user_id": world.users[user], "jwks": {"keys": keys}, "scopes": scopes},
    )
    assert response.status_code == 201, response.text
    return response.json()


def assertion(
    client_id: str,
    *,
    key: Any = RSA_KEY,
    kid: str = "rsa-1",
    alg: str = "RS384",
    **claims: Any,
) -> str:
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": now + 240, "jti": uuid.uuid4().hex}
    body.update(claims)
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


def token_request(world: World, signed: str, scope: str) -> Any:
    return world.client(None).post(
        f"{FHIR}/auth/token",
        data={
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": signed,
        },
    )


def bearer(world: World, client: dict[str, Any], scope: str, **kwargs: Any) -> dict[str, str]:
    response = token_request(world, assertion(client["client_id"], **kwargs), scope)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def add_weight(world: World, patient: str) -> None:
    url = f"/api/v1/patients/{world.patients[patient]}/measurements"
    response = world.client("nurse").post(
        url, json={"kind": "weight_kg", "value": 70, "measured_on": "2026-11-01"}
    )
    assert response.status_code == 201, response.text


# --- discovery ---------------------------------------------------------------------------------------------


def test_discovery_and_the_capability_statement_name_the_token_endpoint(world: World) -> None:
    anonymous = world.client(None)
    config = anonymous.get(f"{FHIR}/.well-known/smart-configuration")
    assert config.status_code == 200, config.text
    body = config.json()
    assert body["token_endpoint"] == TOKEN_URL
    assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert body["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert body["grant_types_supported"] == ["client_credentials"]
    assert "client-confidential-asymmetric" in body["capabilities"]
    assert {"system/*.read", "system/Patient.rs"} <= set(body["scopes_supported"])

    security = anonymous.get(f"{FHIR}/metadata").json()["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    (uris,) = [e for e in security["extension"] if e["url"].endswith("/oauth-uris")]
    assert uris["extension"] == [{"url": "token", "valueUri": TOKEN_URL}]


# --- the flow ----------------------------------------------------------------------------------------------


def test_an_rsa_client_gets_a_token_reads_a_patient_and_searches_observations(world: World) -> None:
    add_weight(world, "ann")
    client = register(world, ["system/Patient.read", "system/Observation.rs"])
    assert client["client_id"].startswith("igfc-") and client["enabled"] is True
    response = token_request(
        world, assertion(client["client_id"]), "system/Patient.read system/Observation.rs"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 300
    assert body["scope"] == "system/Patient.read system/Observation.rs"
    assert response.headers["cache-control"] == "no-store"
    headers = {"Authorization": f"Bearer {body['access_token']}"}

    anonymous = world.client(None)
    ann = world.patients["ann"]
    read = anonymous.get(f"{FHIR}/Patient/{ann}", headers=headers)
    assert read.status_code == 200 and read.json()["id"] == str(ann)
    search = anonymous.get(f"{FHIR}/Observation?patient={ann}", headers=headers)
    assert search.status_code == 200, search.text
    assert search.json()["resourceType"] == "Bundle" and search.json()["total"] >= 1

    with world.db.session() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.action.like("fhir.%"))).scalars().all()
        by_action = {r.action: r for r in rows}
        token = session.execute(
            select(ApiToken).where(ApiToken.client_id == client["client_id"])
        ).scalar_one()
    via = f"svc via {client['client_id']}"
    assert by_action["fhir.token"].actor == via and by_action["fhir.token"].outcome == "success"
    assert by_action["fhir.read"].actor == via and by_action["fhir.read"].patient_id == ann
    assert by_action["fhir.search"].actor == via
    assert token.scopes == ["system/Patient.read", "system/Observation.rs"]
    assert body["access_token"] not in token.token_hash  # only the digest is kept


def test_an_es384_client_with_a_wildcard_scope(world: World) -> None:
    client = register(world, ["system/*.rs"])
    headers = bearer(world, client, "system/*.rs", key=EC_KEY, kid="ec-1", alg="ES384")
    read = world.client(None).get(f"{FHIR}/Patient/{world.patients['ann']}", headers=headers)
    assert read.status_code == 200, read.text
    # a narrower scope than allowed is granted as asked
    narrow = token_request(world, assertion(client["client_id"]), "system/Patient.r")
    assert narrow.status_code == 200 and narrow.json()["scope"] == "system/Patient.r"


# --- refused assertions ------------------------------------------------------------------------------------


def _refusals(client_id: str) -> list[tuple[str, str, str]]:
    now = int(time.time())
    return [
        ("bad signature", assertion(client_id, key=OTHER_RSA_KEY), "signature does not verify"),
        ("unknown kid", assertion(client_id, kid="nope"), "no key with kid 'nope'"),
        ("expired", assertion(client_id, exp=now - 120), "has expired"),
        ("exp too far", assertion(client_id, exp=now + 3600), "more than five minutes ahead"),
        ("wrong aud", assertion(client_id, aud="http://testserver/fhir/R4"), "aud must be this token"),
        ("iss is not sub", assertion(client_id, sub="someone-else"), "sub must be your client_id"),
        ("no jti", assertion(client_id, jti=None), "jti"),
        (
            "alg none",
            jwt.encode(
                {"iss": client_id, "sub": client_id}, None, algorithm="none", headers={"kid": "rsa-1"}
            ),
            "alg 'none'",
        ),
        (
            "HS256",
            jwt.encode(
                {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": now + 60, "jti": "h"},
                "a-shared-secret-that-is-long-enough-for-hs256",
                algorithm="HS256",
                headers={"kid": "rsa-1"},
            ),
            "alg 'HS256'",
        ),
        ("unknown client", assertion("igfc-unknown"), "no client is registered"),
        ("not a JWT", "not-a-jwt", "not a signed JWT"),
    ]


def test_each_bad_assertion_is_refused_as_invalid_client_in_words(world: World) -> None:
    client = register(world, ["system/Patient.read"])
    wrong = []
    for label, signed, words in _refusals(client["client_id"]):
        response = token_request(world, signed, "system/Patient.read")
        body = response.json()
        if response.status_code != 401 or body.get("error") != "invalid_client":
            wrong.append(f"{label}: {response.status_code} {body}")
        elif words not in body["error_description"]:
            wrong.append(f"{label}: {body['error_description']!r} does not say {words!r}")
    assert wrong == []
    with world.db.session() as session:
        tokens = session.execute(select(ApiToken).where(ApiToken.client_id.is_not(None))).scalars().all()
        failures = (
            session.execute(
                select(AuditEvent).where(AuditEvent.action == "fhir.token", AuditEvent.outcome == "failure")
            )
            .scalars()
            .all()
        )
    assert tokens == []
    assert len(failures) >= 7  # every refusal of a known client is audited
    assert all("Annika" not in f.detail for f in failures)


def test_the_request_form_itself_is_checked(world: World) -> None:
    client = register(world, ["system/Patient.read"])
    signed = assertion(client["client_id"])
    anonymous = world.client(None)
    wrong_grant = anonymous.post(
        f"{FHIR}/auth/token",
        data={"grant_type": "password", "scope": "system/Patient.read", "client_assertion": signed},
    )
    assert wrong_grant.status_code == 400 and wrong_grant.json()["error"] == "unsupported_grant_type"
    missing = anonymous.post(f"{FHIR}/auth/token", data={"grant_type": "client_credentials"})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    as_json = anonymous.post(f"{FHIR}/auth/token", json={"grant_type": "client_credentials"})
    assert as_json.status_code == 400 and "form-encoded" in as_json.json()["error_description"]


def test_a_jti_is_accepted_once(world: World) -> None:
    client = register(world, ["system/Patient.read"])
    signed = assertion(client["client_id"])
    assert token_request(world, signed, "system/Patient.read").status_code == 200
    again = token_request(world, signed, "system/Patient.read")
    assert again.status_code == 401 and "used already" in again.json()["error_description"]


def test_two_requests_with_one_jti_at_the_same_moment_get_one_token(world: World) -> None:
    needs_concurrency(world)
    client = register(world, ["system/Patient.read"])
    form = {
        "grant_type": "client_credentials",
        "scope": "system/Patient.read",
        "client_assertion_type": smart_service.ASSERTION_TYPE,
        "client_assertion": assertion(client["client_id"]),
    }

    def ask(session: Any, _principal: Any) -> Any:
        return smart_service.exchange(session, form, TOKEN_URL, "race")

    outcomes = race(world, [("svc", ask), ("svc", ask)])
    granted = [o for o in outcomes if isinstance(o, smart_service.Granted)]
    refused = [o for o in outcomes if isinstance(o, smart_service.OAuthError)]
    assert len(granted) == 1 and len(refused) == 1, outcomes
    assert "used already" in refused[0].message
    with world.db.session() as session:
        count = len(session.execute(select(ApiToken).where(ApiToken.client_id.is_not(None))).scalars().all())
    assert count == 1


# --- scopes ------------------------------------------------------------------------------------------------


def test_scopes_beyond_the_clients_or_the_servers_are_refused(world: World) -> None:
    client = register(world, ["system/Observation.read"])
    for scope, words in (
        ("system/Patient.read", "may not be granted system/Patient.read"),
        ("system/*.read", "may not be granted system/*.read"),
        ("user/Patient.read", "only system/ scopes"),
        ("system/Observation.write", "may not be granted system/Observation.write"),
        ("system/Appointment.write", "read-only through this FHIR server"),
        ("system/Observation.d", "nothing is deleted"),
        ("system/Basic.read", "not a resource type this server serves"),
    ):
        response = token_request(world, assertion(client["client_id"]), scope)
        assert response.status_code == 400, (scope, response.text)
        assert response.json()["error"] == "invalid_scope"
        assert words in response.json()["error_description"], (scope, response.json())


def test_a_token_for_observations_cannot_read_a_patient(world: World) -> None:
    client = register(world, ["system/Observation.read", "system/Patient.s"])
    headers = bearer(world, client, "system/Observation.read system/Patient.s")
    anonymous = world.client(None)
    read = anonymous.get(f"{FHIR}/Patient/{world.patients['ann']}", headers=headers)
    assert read.status_code == 403, read.text
    outcome = read.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "system/Patient.r" in outcome["issue"][0]["details"]["text"]
    assert anonymous.get(f"{FHIR}/Patient", headers=headers).status_code == 200  # .s: search only
    assert anonymous.get(f"{FHIR}/Observation", headers=headers).status_code == 200
    # and a SMART token serves the FHIR API only
    api = anonymous.get("/api/v1/patients", headers=headers)
    assert api.status_code == 403 and "FHIR API" in api.json()["detail"]


def test_ordinary_sessions_and_api_tokens_are_not_limited_by_scopes(world: World) -> None:
    nurse = world.client("nurse")
    assert nurse.get(f"{FHIR}/Patient/{world.patients['ann']}").status_code == 200
    issued = world.client("admin").post(
        "/api/v1/tokens", json={"user_id": world.users["svc"], "name": "t", "roles": ["pharmacist"]}
    )
    headers = {"Authorization": f"Bearer {issued.json()['token']}"}
    assert world.client(None).get("/api/v1/patients", headers=headers).status_code == 200
    # the admin's token list shows only ordinary tokens
    client = register(world, ["system/Patient.read"])
    bearer(world, client, "system/Patient.read")
    listed = world.client("admin").get("/api/v1/tokens").json()
    assert [t["name"] for t in listed] == ["t"]


# --- the client and its account ---------------------------------------------------------------------------


def test_a_disabled_client_gets_no_token_and_its_tokens_stop_working(world: World) -> None:
    client = register(world, ["system/Patient.read"])
    headers = bearer(world, client, "system/Patient.read")
    admin = world.client("admin")
    disabled = admin.post(f"/api/v1/fhir-clients/{client['id']}/disable")
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert disabled.json()["disabled_by_user_id"] == world.users["admin"]
    refused = token_request(world, assertion(client["client_id"]), "system/Patient.read")
    assert refused.status_code == 401 and "disabled" in refused.json()["error_description"]
    read = world.client(None).get(f"{FHIR}/Patient/{world.patients['ann']}", headers=headers)
    assert read.status_code == 401
    with world.db.session() as session:
        actions = session.execute(
            select(AuditEvent.action, AuditEvent.detail).where(AuditEvent.action.like("fhir_client.%"))
        ).all()
    assert [a for a, _ in actions] == ["fhir_client.create", "fhir_client.disable"]
    assert '"tokens_revoked":1' in actions[1][1]


def test_the_access_token_expires(world: World) -> None:
    client = register(world, ["system/Patient.read"])
    headers = bearer(world, client, "system/Patient.read")
    url = f"{FHIR}/Patient/{world.patients['ann']}"
    assert world.client(None).get(url, headers=headers).status_code == 200
    with world.db.session() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.client_id == client["client_id"])
            .values(expires_at=ApiToken.created_at)  # its five minutes are over
        )
        session.commit()
    assert world.client(None).get(url, headers=headers).status_code == 401


def test_the_service_accounts_site_limits_still_apply(world: World) -> None:
    world.add_user("svc.north", ["pharmacist"], ["north"])
    with world.db.session() as session:
        user = session.get(User, world.users["svc.north"])
        assert user is not None
        user.is_service_account = True
        user.password_hash = None
        session.commit()
    client = register(world, ["system/*.read"], user="svc.north")
    headers = bearer(world, client, "system/*.read")
    anonymous = world.client(None)
    assert anonymous.get(f"{FHIR}/Patient/{world.patients['ann']}", headers=headers).status_code == 200
    south = anonymous.get(f"{FHIR}/Patient/{world.patients['sol']}", headers=headers)
    assert south.status_code == 404, south.text
    found = anonymous.get(f"{FHIR}/Patient", headers=headers).json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == [str(world.patients["ann"])]


def test_a_disabled_service_account_gets_no_token(world: World) -> None:
    client = register(world, ["system/Patient.read"])
    world.client("admin").put(f"/api/v1/users/{world.users['svc']}/active", json={"active": False})
    refused = token_request(world, assertion(client["client_id"]), "system/Patient.read")
    assert refused.status_code == 401 and "service account" in refused.json()["error_description"]


# --- registration ------------------------------------------------------------------------------------------


def _weak_keys() -> list[tuple[str, dict[str, Any], str]]:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    p256 = ec.generate_private_key(ec.SECP256R1())
    good = public_jwk(RSA_KEY, "k1")
    private = dict(RSAAlgorithm.to_jwk(RSA_KEY, as_dict=True)) | {"kid": "k1"}
    return [
        ("RSA 1024", {"keys": [public_jwk(small, "k1")]}, "at least 2048 bits"),
        ("EC P-256", {"keys": [public_jwk(p256, "k1")]}, "P-384"),
        ("no kid", {"keys": [{k: v for k, v in good.items() if k != "kid"}]}, "no kid"),
        ("two kids alike", {"keys": [good, good]}, "appears twice"),
        ("private key", {"keys": [private]}, "private or secret key"),
        ("secret key", {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}, "private or secret key"),
        ("no keys", {"keys": []}, "no keys"),
        ("not a set", {"kty": "RSA"}, "keys list"),
    ]


def test_registration_checks_the_keys_the_scopes_and_the_account(world: World) -> None:
    admin = world.client("admin")
    scopes = ["system/Patient.read"]
    for label, jwks, words in _weak_keys():
        response = admin.post(
            "/api/v1/fhir-clients",
            json={"name": "x", "user_id": world.users["svc"], "jwks": jwks, "scopes": scopes},
        )
        assert response.status_code == 422, (label, response.text)
        assert response.json()["field"] == "jwks" and words in response.json()["detail"], (
            label,
            response.json(),
        )
    keys = {"keys": [public_jwk(RSA_KEY, "k1")]}
    bad_scope = admin.post(
        "/api/v1/fhir-clients",
        json={"name": "x", "user_id": world.users["svc"], "jwks": keys, "scopes": ["patient/*.read"]},
    )
    assert bad_scope.status_code == 422 and bad_scope.json()["field"] == "scopes"
    person = admin.post(
        "/api/v1/fhir-clients",
        json={"name": "x", "user_id": world.users["nurse"], "jwks": keys, "scopes": scopes},
    )
    assert person.status_code == 422 and "service account" in person.json()["detail"]
    assert admin.get("/api/v1/fhir-clients").json() == []


def test_the_admin_page_shows_a_bad_key_set_beside_its_field_and_registers_a_good_one(world: World) -> None:
    admin = world.client("admin")
    page = admin.get("/admin/fhir-clients")
    assert page.status_code == 200 and "Register a client" in page.text
    form = {
        "name": "Lab system",
        "user_id": str(world.users["svc"]),
        "scopes": "system/Patient.rs system/Observation.rs",
        "jwks": '{"keys": [{"kty": "RSA", "n": "abc", "e": "AQAB"}]}',
    }
    refused = admin.post("/admin/fhir-clients", data=form)
    assert refused.status_code == 422, refused.text
    label = refused.text.split('name="jwks"')[1].split("</label>")[0]
    assert "no kid" in label  # the problem is shown beside the field
    assert "Lab system" in refused.text  # and the answers are kept

    form["jwks"] = '{"keys": [' + json.dumps(public_jwk(EC_KEY, "ec-1")) + "]}"
    made = admin.post("/admin/fhir-clients", data=form)
    assert made.status_code == 303, made.text
    shown = admin.get(made.headers["location"])
    (client,) = admin.get("/api/v1/fhir-clients").json()
    assert client["client_id"] in shown.text and "ec-1 (EC P-384)" in shown.text
    disabled = admin.post(f"/admin/fhir-clients/{client['id']}/disable", data={})
    assert disabled.status_code == 303
    assert admin.get("/api/v1/fhir-clients").json()[0]["enabled"] is False
