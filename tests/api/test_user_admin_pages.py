"""Accounts set up in the UI: an administrator changes a user's roles, site limits and password on the
user's page (the JSON API's service functions: same checks, same audit rows), each refusal said once,
in words, beside what it is about. Passwords too easy to guess, or made from the account's own name,
are refused (zxcvbn's estimate, with the username and name as the first words it tries)."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select

from igflow.security.models import AuditEvent, User
from igflow.security.passwords import check_strength, verify_password
from tests.api.test_hardening_inputs import _sign_in
from tests.conftest import TEST_PASSWORD, World

STRONG = "plum-rocket-velvet-harbour"  # synthetic, strong enough: four unrelated words


def _active(world: World, username: str) -> bool:
    with world.db.session() as session:
        return session.execute(select(User.active).where(User.username == username)).scalar_one()


def _roles(world: World, username: str) -> list[str]:
    with world.db.session() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one()
        return sorted(r.role for r in user.roles)


def _site_ids(world: World, username: str) -> list[int]:
    with world.db.session() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one()
        return sorted(s.site_id for s in user.sites)


def _hash(world: World, username: str) -> str | None:
    with world.db.session() as session:
        return session.execute(select(User.password_hash).where(User.username == username)).scalar_one()


def _audited(world: World, action: str, user_id: int) -> list[AuditEvent]:
    with world.db.session() as session:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.action == action, AuditEvent.resource_id == str(user_id))
        ).scalars()
        return list(rows)


def _post(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data={**data, "csrf_token": client.csrf})


def _beside(html: str, field: str) -> str:
    """The problem shown beside a field (its span.field-error)."""
    found = re.search(rf'<span class="field-error" id="err-{re.escape(field)}"[^>]*>(.*?)</span>', html, re.S)
    assert found, f"no problem shown beside {field}"
    return found.group(1).strip()


# --- the account's page ------------------------------------------------------------------------------


def test_the_account_page_says_roles_and_sites_in_words(world: World) -> None:
    world.add_user("pa.north", ["prior_auth", "scheduler"], ["north", "south"])
    admin = world.client("admin")
    page = admin.get(f"/admin/users/{world.users['pa.north']}")
    assert page.status_code == 200
    assert "prior-authorisation specialist, scheduler" in page.text
    assert "North Centre, South Centre" in page.text
    assert "prior_auth" not in page.text.replace('value="prior_auth"', "")
    listing = admin.get("/admin/users").text
    assert "North Centre, South Centre" in listing and "site(s)" not in listing
    assert f'href="/admin/users/{world.users["pa.north"]}"' in listing


def test_the_account_page_shows_recent_failed_sign_ins(world: World) -> None:
    assert _sign_in(world, "nurse", TEST_PASSWORD).status_code == 303
    for _ in range(2):
        assert _sign_in(world, "nurse", "wrong-password-x", address="203.0.113.21").status_code == 400
    page = world.client("admin").get(f"/admin/users/{world.users['nurse']}").text
    assert "Latest failed sign-ins" in page and page.count("203.0.113.21") == 2
    quiet = world.client("admin").get(f"/admin/users/{world.users['pharmacist']}").text
    assert "Latest failed sign-ins" not in quiet


# --- roles -----------------------------------------------------------------------------------------


def test_an_admin_changes_roles_on_the_page_audited_and_sessions_ended(world: World) -> None:
    nurse = world.client("nurse")
    assert nurse.get("/patients").status_code == 200
    uid = world.users["nurse"]
    response = _post(world.client("admin"), f"/admin/users/{uid}/roles", {"roles": ["nurse", "scheduler"]})
    assert response.status_code == 303 and response.headers["location"] == f"/admin/users/{uid}?saved=roles"
    assert _roles(world, "nurse") == ["nurse", "scheduler"]
    (row,) = _audited(world, "user.roles_change", uid)
    assert json.loads(row.detail) == {
        "before": {"roles": ["nurse"], "site_ids": []},
        "after": {"roles": ["nurse", "scheduler"], "site_ids": []},
    }
    assert "/login" in nurse.get("/patients").headers.get("location", "")  # signed out: roles apply now
    saved = world.client("admin").get(response.headers["location"]).text
    assert "Roles saved" in saved and "infusion nurse, scheduler" in saved


def test_no_role_or_an_unknown_role_is_refused_beside_the_roles(world: World) -> None:
    uid = world.users["nurse"]
    admin = world.client("admin")
    none = _post(admin, f"/admin/users/{uid}/roles", {})
    assert none.status_code == 422
    assert _beside(none.text, "roles") == "At least one role is required"
    assert none.text.count("at least one role is required") + none.text.count("At least one role") == 1
    assert _roles(world, "nurse") == ["nurse"]
    unknown = _post(admin, f"/admin/users/{uid}/roles", {"roles": ["wizard"]})
    assert unknown.status_code == 422 and "unknown role" in _beside(unknown.text, "roles").lower()
    assert _audited(world, "user.roles_change", uid) == []


def test_an_admin_cannot_remove_their_own_admin_role(world: World) -> None:
    uid = world.users["admin"]
    admin = world.client("admin")
    response = _post(admin, f"/admin/users/{uid}/roles", {"roles": ["pharmacist"]})
    assert response.status_code == 403
    said = _beside(response.text, "roles")
    assert said == "You cannot remove your own admin role"
    assert response.text.lower().count("you cannot remove your own admin role") == 1
    assert "roles: " not in response.text.lower()
    assert _roles(world, "admin") == ["admin"]
    assert admin.get("/admin/users").status_code == 200  # still an admin, still signed in
    # adding a role to oneself, the admin role kept, is allowed
    assert _post(admin, f"/admin/users/{uid}/roles", {"roles": ["admin", "auditor"]}).status_code == 303
    assert _roles(world, "admin") == ["admin", "auditor"]


def test_an_admin_cannot_disable_themselves_from_their_page(world: World) -> None:
    uid = world.users["admin"]
    admin = world.client("admin")
    page = admin.get(f"/admin/users/{uid}").text
    assert f'action="/admin/users/{uid}/active"' not in page  # no button to do it
    response = _post(admin, f"/admin/users/{uid}/active", {"active": "false", "from": "account"})
    assert response.status_code == 403
    assert response.text.count("You cannot disable your own account") == 1
    assert "active: " not in response.text.lower()
    assert _active(world, "admin")


def test_disabling_from_the_account_page_goes_back_to_it(world: World) -> None:
    uid = world.users["nurse"]
    response = _post(
        world.client("admin"), f"/admin/users/{uid}/active", {"active": "false", "from": "account"}
    )
    assert (
        response.status_code == 303 and response.headers["location"] == f"/admin/users/{uid}?saved=disabled"
    )
    assert not _active(world, "nurse")
    assert len(_audited(world, "user.disable", uid)) == 1


# --- site limits -------------------------------------------------------------------------------------


def test_an_admin_limits_sites_on_the_page(world: World) -> None:
    uid = world.users["scheduler"]
    admin = world.client("admin")
    north, south = world.sites["north"], world.sites["south"]
    response = _post(admin, f"/admin/users/{uid}/sites", {"site_ids": [str(north)]})
    assert response.status_code == 303
    assert _site_ids(world, "scheduler") == [north]
    (row,) = _audited(world, "user.sites_change", uid)
    assert json.loads(row.detail) == {"before": [], "after": [north]}
    page = admin.get(response.headers["location"]).text
    assert "Site limits saved" in page and "<dd>North Centre</dd>" in page
    # none ticked: every site again
    assert _post(admin, f"/admin/users/{uid}/sites", {}).status_code == 303
    assert _site_ids(world, "scheduler") == []
    assert "<dd>every site</dd>" in admin.get(f"/admin/users/{uid}").text
    # a value that is not a site, or a site that does not exist, is refused (never read as "every site")
    for bad in (["abc"], [str(south), "999999"]):
        refused = _post(admin, f"/admin/users/{uid}/sites", {"site_ids": bad})
        assert refused.status_code == 422
        assert "site_ids:" not in refused.text and _beside(refused.text, "site_ids")
        assert _site_ids(world, "scheduler") == []
    assert len(_audited(world, "user.sites_change", uid)) == 2


# --- passwords ---------------------------------------------------------------------------------------


def test_an_admin_resets_a_password_on_the_page(world: World) -> None:
    uid = world.users["nurse"]
    nurse = world.client("nurse")
    response = _post(world.client("admin"), f"/admin/users/{uid}/password", {"password": STRONG})
    assert (
        response.status_code == 303 and response.headers["location"] == f"/admin/users/{uid}?saved=password"
    )
    assert verify_password(_hash(world, "nurse"), STRONG)
    (row,) = _audited(world, "user.password_reset", uid)
    assert STRONG not in str(row.detail) and STRONG not in str(row.__dict__)
    assert "/login" in nurse.get("/patients").headers.get("location", "")  # the old session is ended
    assert _sign_in(world, "nurse", STRONG).status_code == 303


def test_a_weak_password_is_refused_once_beside_the_field_in_words(world: World) -> None:
    uid = world.users["nurse"]
    before = _hash(world, "nurse")
    response = _post(world.client("admin"), f"/admin/users/{uid}/password", {"password": "Password1234!"})
    assert response.status_code == 422
    said = _beside(response.text, "password")
    assert said.startswith("Too easy to guess (this is similar to a commonly used password).")
    assert "Add another word or two" in said
    assert response.text.count("Too easy to guess") + response.text.count("too easy to guess") == 1
    assert "password: " not in response.text.lower()  # no field code, doubled or not
    assert "Password1234!" not in response.text  # a refused password is not shown again
    assert _hash(world, "nurse") == before
    assert _audited(world, "user.password_reset", uid) == []
    short = _post(world.client("admin"), f"/admin/users/{uid}/password", {"password": "short"})
    assert short.status_code == 422 and _beside(short.text, "password") == "Must be at least 12 characters"


def test_a_password_made_from_the_account_name_is_refused(world: World) -> None:
    world.add_user("zorvath.quillibrand", ["nurse"])  # display name "Zorvath.Quillibrand"
    uid = world.users["zorvath.quillibrand"]
    own_name = "Quillibrand-Zorvath-2026"
    check_strength(own_name)  # an unusual name: strong for anyone else ...
    response = _post(world.client("admin"), f"/admin/users/{uid}/password", {"password": own_name})
    assert response.status_code == 422  # ... but not for the account it names
    assert "built from the account's username or name" in _beside(response.text, "password").replace(
        "&#39;", "'"
    )
    # and a common name with a year, from the add-user form
    created = _post(
        world.client("admin"),
        "/admin/users",
        {
            "username": "carol.chen",
            "display_name": "Carol Chen",
            "password": "carol-chen-2026",
            "roles": "nurse",
        },
    )
    assert created.status_code == 422
    assert "built from the account" in _beside(created.text, "password")
    assert created.text.count("built from the account") == 1  # beside the field; the list names the field
    assert "marked below: Initial password" in created.text
    assert "password: password" not in created.text.lower()
    with world.db.session() as session:
        assert session.execute(select(User).where(User.username == "carol.chen")).first() is None


def test_a_strong_password_is_accepted_when_adding_a_user(world: World) -> None:
    created = _post(
        world.client("admin"),
        "/admin/users",
        {"username": "carol.chen", "display_name": "Carol Chen", "password": STRONG, "roles": ["nurse"]},
    )
    assert created.status_code == 303, created.text
    assert verify_password(_hash(world, "carol.chen"), STRONG)
    assert _sign_in(world, "carol.chen", STRONG).status_code == 303


def test_the_api_refuses_a_weak_password_in_the_same_words(world: World) -> None:
    uid = world.users["nurse"]
    response = world.client("admin").put(f"/api/v1/users/{uid}/password", json={"password": "qwertyuiop123"})
    assert response.status_code == 422 and response.json()["field"] == "password"
    assert response.json()["detail"].startswith("password: too easy to guess")
    assert (
        world.client("admin").put(f"/api/v1/users/{uid}/password", json={"password": STRONG}).status_code
        == 204
    )


# --- who may -----------------------------------------------------------------------------------------


def test_only_an_admin_may_open_or_change_an_account(world: World) -> None:
    uid = world.users["nurse"]
    before = _hash(world, "nurse")
    for role in ("pharmacist", "auditor", "nurse"):
        client = world.client(role)
        assert client.get(f"/admin/users/{uid}").status_code == 403
        assert _post(client, f"/admin/users/{uid}/roles", {"roles": ["admin"]}).status_code == 403
        assert (
            _post(client, f"/admin/users/{uid}/sites", {"site_ids": [str(world.sites["north"])]}).status_code
            == 403
        )
        assert _post(client, f"/admin/users/{uid}/password", {"password": STRONG}).status_code == 403
    assert _roles(world, "nurse") == ["nurse"] and _site_ids(world, "nurse") == []
    assert _hash(world, "nurse") == before
    anonymous = world.client(None)
    assert anonymous.get(f"/admin/users/{uid}").status_code == 303
    assert world.client("admin").get("/admin/users/999999").status_code == 404
