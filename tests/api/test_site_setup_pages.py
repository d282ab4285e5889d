"""A site's set-up on its own page (issue 12): details, opening hours and nurses, closed dates and chairs
are edited by a site manager who works there, each change audited with what it was and what it became.

A refused form comes back with each problem once, in words, beside its field, and every answer kept. A closed
date on which appointments are booked is refused with how many on which dates; hours or nurses that no
longer fit booked appointments are saved and the page names them.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select

from igflow.security.models import AuditEvent
from igflow.sites.models import ClosedDate, Site
from tests.api.test_scheduling_api import _course, _patient, _verified_order, book_first_option
from tests.conftest import World

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FAR = dt.date.today() + dt.timedelta(days=400)


def _post(world: World, user: str, url: str, data: dict[str, Any]) -> Any:
    client = world.client(user)
    return client.post(url, data={**data, "csrf_token": client.csrf})


def _hours_form(**changes: str) -> dict[str, str]:
    """The conftest centres' hours (Monday to Friday 08:00-17:00, 2 nurses; closed at the weekend)."""
    form: dict[str, str] = {"patients_per_nurse": "4", "starts_per_nurse_per_slot": "1"}
    for i, code in enumerate(WEEKDAYS):
        if i < 5:
            form |= {f"open_{code}": "08:00", f"close_{code}": "17:00", f"nurses_{code}": "2"}
        else:
            form |= {f"closed_{code}": "1", f"nurses_{code}": "0"}
    form.update(changes)
    return {k: v for k, v in form.items() if v != "<untick>"}


def _site(world: World, code: str) -> Site:
    with world.db.session() as session:
        site = session.get(Site, world.sites[code])
        assert site is not None
        session.expunge(site)
        return site


def _audit(world: World, action: str) -> list[dict[str, Any]]:
    with world.db.session() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return [json.loads(e.detail) for e in rows.scalars()]


def _booked(world: World) -> dict[str, Any]:
    """One appointment booked at North (the first slot the suggestions offer)."""
    course = _course(world, _verified_order(world, _patient(world, "una", "SET001")))
    appointment = book_first_option(world, course["id"])["appointments"][0]
    assert appointment["site_id"] == world.sites["north"], appointment
    return dict(appointment)


def test_details_are_saved_shown_and_audited(world: World) -> None:
    north = world.sites["north"]
    page = world.client("admin").get(f"/admin/sites/{north}")
    assert page.status_code == 200 and "Save details" in page.text
    saved = _post(
        world,
        "admin",
        f"/admin/sites/{north}",
        {
            "name": "North Infusion Centre",
            "address": "2 Test Way",
            "lat": "34.0522",
            "lon": "-118.2437",
            "timezone": "America/Denver",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/admin/sites/{north}?saved=details"
    page = world.client("admin").get(saved.headers["location"])
    assert "Site details saved." in page.text
    assert 'value="North Infusion Centre"' in page.text and 'value="34.0522"' in page.text
    assert 'value="America/Denver"' in page.text
    site = world.client("nurse").get(f"/api/v1/sites/{north}").json()
    assert (site["lat"], site["lon"], site["timezone"]) == (34.0522, -118.2437, "America/Denver")
    (detail,) = _audit(world, "site.details.update")
    assert detail["before"]["name"] == "North Centre" and detail["after"]["name"] == "North Infusion Centre"
    assert detail["before"]["lat"] is None and detail["after"]["lat"] == 34.0522
    assert "address" in detail["after"] and "timezone" in detail["after"]
    # both coordinates may be cleared together
    cleared = _post(
        world,
        "admin",
        f"/admin/sites/{north}",
        {"name": "North Infusion Centre", "address": "", "lat": "", "lon": "", "timezone": "America/Denver"},
    )
    assert cleared.status_code == 303
    assert _site(world, "north").lat is None and _site(world, "north").lon is None


def test_hours_nurses_and_capacity_are_saved_shown_and_audited(world: World) -> None:
    north = world.sites["north"]
    form = _hours_form(
        closed_mon="1",
        close_tue="15:00",
        nurses_wed="3",
        closed_sat="<untick>",
        open_sat="09:00",
        close_sat="13:00",
        nurses_sat="1",
        patients_per_nurse="3",
        starts_per_nurse_per_slot="2",
    )
    saved = _post(world, "admin", f"/admin/sites/{north}/hours", form)
    assert saved.status_code == 303, saved.text
    page = world.client("admin").get(saved.headers["location"])
    assert "Opening hours and nurses saved." in page.text
    api = world.client("admin").get(f"/api/v1/sites/{north}").json()
    hours = {h["weekday"]: (h["open"], h["close"], h["nurses"]) for h in api["hours"]}
    assert "mon" not in hours and "sun" not in hours
    assert hours["tue"] == ("08:00", "15:00", 2) and hours["wed"] == ("08:00", "17:00", 3)
    assert hours["sat"] == ("09:00", "13:00", 1)
    assert (api["patients_per_nurse"], api["starts_per_nurse_per_slot"]) == (3, 2)
    assert 'name="close_tue" type="time" value="15:00"' in page.text
    assert 'name="closed_mon" value="1" checked' in page.text
    (detail,) = _audit(world, "site.hours.update")
    assert detail["before"]["hours"]["mon"] == {"open": "08:00", "close": "17:00", "nurses": 2}
    assert detail["after"]["hours"]["mon"] == "closed"
    assert detail["before"]["patients_per_nurse"] == 4 and detail["after"]["patients_per_nurse"] == 3
    assert detail["booked_not_fitting"] == 0


def test_closed_dates_are_added_as_a_range_removed_and_audited(world: World) -> None:
    north = world.sites["north"]
    first, last = FAR, FAR + dt.timedelta(days=2)
    added = _post(
        world,
        "admin",
        f"/admin/sites/{north}/closed-dates",
        {"date": first.isoformat(), "end_date": last.isoformat(), "reason": "Refurbishment"},
    )
    assert added.status_code == 303, added.text
    page = world.client("admin").get(added.headers["location"])
    assert "Closed dates added." in page.text and page.text.count("Refurbishment") == 3
    site = _site(world, "north")
    assert [c.date for c in site.closed_dates] == [first + dt.timedelta(days=i) for i in range(3)]
    again = _post(
        world, "admin", f"/admin/sites/{north}/closed-dates", {"date": last.isoformat(), "reason": "x"}
    )
    assert again.status_code == 409 and "already closed" in again.text
    middle = site.closed_dates[1].id
    removed = _post(world, "admin", f"/admin/sites/{north}/closed-dates/{middle}/delete", {})
    assert removed.status_code == 303
    assert "Closed date removed." in world.client("admin").get(removed.headers["location"]).text
    assert [c.date for c in _site(world, "north").closed_dates] == [first, last]
    (add,) = _audit(world, "site.closed_date.add")
    assert add["after"] == {
        "dates": [(first + dt.timedelta(days=i)).isoformat() for i in range(3)],
        "reason": "Refurbishment",
    }
    (remove,) = _audit(world, "site.closed_date.remove")
    assert remove["before"] == {"date": (first + dt.timedelta(days=1)).isoformat(), "reason": "Refurbishment"}
    # the API does the same
    admin = world.client("admin")
    made = admin.post(
        f"/api/v1/sites/{north}/closed-dates",
        json={"date": FAR.replace(day=1).isoformat(), "reason": "Inventory day"},
    )
    assert made.status_code == 201, made.text
    assert admin.delete(f"/api/v1/sites/{north}/closed-dates/{made.json()[0]['id']}").status_code == 200
    other = _site(world, "south").id
    assert admin.delete(f"/api/v1/sites/{other}/closed-dates/{made.json()[0]['id']}").status_code == 404


def test_chairs_are_renamed_changed_taken_out_of_use_and_added(world: World) -> None:
    north = world.sites["north"]
    chair = _site(world, "north").chairs[0]
    saved = _post(world, "admin", f"/admin/sites/{north}/chairs/{chair.id}", {"label": "R1", "kind": "bed"})
    assert saved.status_code == 303, saved.text
    page = world.client("admin").get(saved.headers["location"])
    assert "Chair saved." in page.text and 'value="R1"' in page.text
    renamed = next(c for c in _site(world, "north").chairs if c.id == chair.id)
    assert (renamed.label, renamed.kind, renamed.active) == ("R1", "bed", False)
    back = _post(
        world,
        "admin",
        f"/admin/sites/{north}/chairs/{chair.id}",
        {"label": "R1", "kind": "bed", "active": "1"},
    )
    assert back.status_code == 303
    added = _post(
        world, "admin", f"/admin/sites/{north}/chairs", {"label": "N9", "kind": "recliner", "back": "site"}
    )
    assert added.status_code == 303 and added.headers["location"] == f"/admin/sites/{north}?saved=chair"
    assert "N9" in [c.label for c in _site(world, "north").chairs]
    taken = _post(
        world,
        "admin",
        f"/admin/sites/{north}/chairs/{chair.id}",
        {"label": "N9", "kind": "bed", "active": "1"},
    )
    assert taken.status_code == 409 and "already exists" in taken.text and 'value="N9"' in taken.text
    first, second = _audit(world, "chair.update")
    assert first["before"] == {"label": "C1", "kind": "recliner", "active": True}
    assert first["after"] == {"label": "R1", "kind": "bed", "active": False}
    assert second == {
        "site_id": north,
        "active": True,
        "before": {"active": False},
        "after": {"active": True},
    }
    (create,) = _audit(world, "chair.create")
    assert create["after"] == {"label": "N9", "kind": "recliner", "active": True}


def test_details_problems_are_said_once_beside_their_field_with_the_answers_kept(world: World) -> None:
    north = world.sites["north"]
    form = {"name": "Kept Name", "address": "9 Kept Road", "lat": "95", "lon": "", "timezone": "Mars/Olympus"}
    refused = _post(world, "admin", f"/admin/sites/{north}", form)
    assert refused.status_code == 422
    text = refused.text
    assert text.count("Latitude must be at most 90") == 1
    assert text.count("Unknown time zone &#39;Mars/Olympus&#39;") == 1
    assert 'id="err-lat"' in text and 'id="err-timezone"' in text
    assert 'value="Kept Name"' in text and 'value="9 Kept Road"' in text and 'value="Mars/Olympus"' in text
    one = _post(world, "admin", f"/admin/sites/{north}", {**form, "lat": "34.1", "timezone": "UTC"})
    assert one.status_code == 422
    assert one.text.count("Give the longitude too, or leave both coordinates empty") == 1
    assert 'id="err-lon"' in one.text and 'value="34.1"' in one.text
    blank = _post(
        world, "admin", f"/admin/sites/{north}", {**form, "name": " ", "lat": "north", "timezone": "UTC"}
    )
    assert blank.text.count("Name is needed") == 1 and blank.text.count("Latitude must be a number") == 1
    assert _site(world, "north").name == "North Centre"
    assert _audit(world, "site.details.update") == []


def test_hours_problems_are_said_once_beside_their_field_with_the_answers_kept(world: World) -> None:
    north = world.sites["north"]
    form = _hours_form(
        open_tue="17:00",
        close_tue="08:00",
        nurses_wed="5",
        nurses_thu="-1",
        open_fri="",
        patients_per_nurse="0",
    )
    refused = _post(world, "admin", f"/admin/sites/{north}/hours", form)
    assert refused.status_code == 422
    text = refused.text
    assert text.count("Close time must be after the open time on Tuesday") == 1
    assert text.count("Nurses on Thursday must be at least 0") == 1
    assert text.count("Give the open time on Friday, or tick Closed") == 1
    assert text.count("Patients per nurse must be at least 1") == 1
    for name in ("close_tue", "nurses_thu", "open_fri", "patients_per_nurse"):
        assert f'id="err-{name}"' in text, name
    assert (
        'name="open_tue" type="time" value="17:00"' in text
        and 'name="nurses_wed" type="number" value="5"' in text
    )
    assert 'name="closed_sat" value="1" checked' in text
    assert [h.nurses for h in _site(world, "north").hours] == [2, 2, 2, 2, 2]


def test_closed_date_problems_are_said_once_beside_their_field(world: World) -> None:
    north = world.sites["north"]
    form = {
        "date": FAR.isoformat(),
        "end_date": (FAR - dt.timedelta(days=1)).isoformat(),
        "reason": "Kept reason",
    }
    refused = _post(world, "admin", f"/admin/sites/{north}/closed-dates", form)
    assert refused.status_code == 422
    assert refused.text.count("The last day must be on or after the first day") == 1
    assert 'id="err-end_date"' in refused.text and 'value="Kept reason"' in refused.text
    empty = _post(world, "admin", f"/admin/sites/{north}/closed-dates", {"date": "", "reason": ""})
    assert empty.text.count("First day is needed") == 1 and empty.text.count("Reason is needed") == 1
    assert _site(world, "north").closed_dates == []


def test_closing_a_day_with_booked_appointments_is_refused_with_how_many_on_which_dates(world: World) -> None:
    north = world.sites["north"]
    day = dt.date.fromisoformat(_booked(world)["date"])
    refused = _post(
        world, "admin", f"/admin/sites/{north}/closed-dates", {"date": day.isoformat(), "reason": "Flood"}
    )
    assert refused.status_code == 409
    assert f"1 appointment is booked at North Centre on {day.isoformat()}" in refused.text
    assert "the scheduler must move it" in refused.text and 'value="Flood"' in refused.text
    ranged = world.client("admin").post(
        f"/api/v1/sites/{north}/closed-dates",
        json={
            "date": (day - dt.timedelta(days=1)).isoformat(),
            "end_date": (day + dt.timedelta(days=1)).isoformat(),
            "reason": "Flood",
        },
    )
    assert ranged.status_code == 409 and ranged.json()["field"] == "date"
    assert f"1 appointment is booked at North Centre on {day.isoformat()}" in ranged.json()["detail"]
    whole = world.client("admin").get(f"/api/v1/sites/{north}").json()
    body = {
        k: whole[k]
        for k in (
            "code",
            "name",
            "kind",
            "address",
            "timezone",
            "patients_per_nurse",
            "starts_per_nurse_per_slot",
        )
    }
    body["hours"] = whole["hours"]
    body["closed_dates"] = [{"date": day.isoformat(), "reason": "Flood"}]
    assert world.client("admin").put(f"/api/v1/sites/{north}", json=body).status_code == 409
    with world.db.session() as session:
        assert session.execute(select(ClosedDate)).scalars().all() == []
    assert _audit(world, "site.closed_date.add") == []


def test_fewer_hours_or_nurses_are_saved_and_the_page_names_the_bookings_that_no_longer_fit(
    world: World,
) -> None:
    north = world.sites["north"]
    appointment = _booked(world)
    day = dt.date.fromisoformat(appointment["date"])
    code = WEEKDAYS[day.weekday()]
    none = _post(world, "admin", f"/admin/sites/{north}/hours", _hours_form(**{f"nurses_{code}": "0"}))
    assert none.status_code == 303
    page = world.client("admin").get(none.headers["location"]).text
    assert "1 booked appointment no longer fits these settings" in page
    assert day.strftime("%a %d %b %Y") in page
    assert "more patients in chairs at once than 0 nurses can watch (at most 0): 1" in page
    closed = world.client("admin").put(
        f"/api/v1/sites/{north}/hours",
        json={
            "hours": [
                {"weekday": c, "open": "08:00", "close": "17:00", "nurses": 2}
                for c in WEEKDAYS[:5]
                if c != code
            ],
            "patients_per_nurse": 4,
            "starts_per_nurse_per_slot": 1,
        },
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["booked_not_fitting"] == 1
    (misfit,) = closed.json()["misfits"]
    assert misfit["date"] == day.isoformat() and misfit["appointments"] == 1
    assert misfit["reasons"][0].startswith("the site is now closed on ")
    assert [d["booked_not_fitting"] for d in _audit(world, "site.hours.update")] == [1, 1]
    # the scheduler's view is unchanged: the appointment is still booked, nothing moved it
    with world.db.session() as session:
        from igflow.appointments.models import Appointment

        assert session.get(Appointment, appointment["id"]).status == "booked"  # type: ignore[union-attr]
    fine = _post(world, "admin", f"/admin/sites/{north}/hours", _hours_form())
    assert fine.status_code == 303
    assert "no longer fit these settings" not in world.client("admin").get(fine.headers["location"]).text
    assert "no longer fits these settings" not in world.client("admin").get(fine.headers["location"]).text


def test_a_site_limited_manager_changes_only_their_own_site(world: World) -> None:
    world.add_user("admin.north", ["admin"], ["north"])
    north, south = world.sites["north"], world.sites["south"]
    chair = _site(world, "south").chairs[0].id
    writes = {
        f"/admin/sites/{south}": {"name": "Taken", "timezone": "UTC"},
        f"/admin/sites/{south}/hours": _hours_form(),
        f"/admin/sites/{south}/closed-dates": {"date": FAR.isoformat(), "reason": "x"},
        f"/admin/sites/{south}/chairs": {"label": "X1", "kind": "bed"},
        f"/admin/sites/{south}/chairs/{chair}": {"label": "X1", "kind": "bed", "active": "1"},
        f"/admin/sites/{south}/chairs/{chair}/active": {"active": "false"},
    }
    for url, data in writes.items():
        response = _post(world, "admin.north", url, data)
        assert response.status_code == 403, (url, response.status_code)
    client = world.client("admin.north")
    api = {
        ("PUT", f"/api/v1/sites/{south}/details"): {"name": "Taken", "timezone": "UTC"},
        ("PUT", f"/api/v1/sites/{south}/hours"): {
            "hours": [],
            "patients_per_nurse": 1,
            "starts_per_nurse_per_slot": 1,
        },
        ("POST", f"/api/v1/sites/{south}/closed-dates"): {"date": FAR.isoformat(), "reason": "x"},
        ("POST", f"/api/v1/sites/{south}/chairs"): {"label": "X1"},
        ("PUT", f"/api/v1/sites/{south}/chairs/{chair}"): {"label": "X1", "active": False},
    }
    for (method, url), body in api.items():
        assert client.request(method, url, json=body).status_code == 403, url
    other = client.get(f"/admin/sites/{south}")
    assert other.status_code == 200 and "South Centre" in other.text
    assert "Save details" not in other.text and f'action="/admin/sites/{south}' not in other.text
    south_site = _site(world, "south")
    assert south_site.name == "South Centre" and [c.label for c in south_site.chairs] == ["C1", "C2", "C3"]
    assert all(c.active for c in south_site.chairs) and south_site.closed_dates == []
    own = _post(world, "admin.north", f"/admin/sites/{north}", {"name": "North Own", "timezone": "UTC"})
    assert own.status_code == 303
    assert "Save details" in client.get(f"/admin/sites/{north}").text


def test_staff_without_site_management_read_the_page_but_cannot_change_it(world: World) -> None:
    north = world.sites["north"]
    page = world.client("nurse").get(f"/admin/sites/{north}")
    assert page.status_code == 200 and "North Centre" in page.text and "Save details" not in page.text
    for user in ("nurse", "scheduler", "pharmacist"):
        response = _post(world, user, f"/admin/sites/{north}", {"name": "X", "timezone": "UTC"})
        assert response.status_code == 403, user
        assert (
            world.client(user)
            .put(f"/api/v1/sites/{north}/details", json={"name": "X", "timezone": "UTC"})
            .status_code
            == 403
        )
    assert _site(world, "north").name == "North Centre"
    assert world.client("admin").get(f"/admin/sites/{north + 999}").status_code == 404


def test_the_api_bounds_every_number(world: World) -> None:
    north = world.sites["north"]
    admin = world.client("admin")
    for body, field in (
        ({"name": "N", "timezone": "UTC", "lat": 91, "lon": 0}, "lat"),
        ({"name": "N", "timezone": "UTC", "lat": 0, "lon": -181}, "lon"),
        ({"name": "N", "timezone": "UTC", "lat": 1}, "lon"),
        ({"name": "N", "timezone": "UTC", "lat": True, "lon": 1}, "lat"),
        ({"name": "N", "timezone": "Europe/Nowhere"}, "timezone"),
    ):
        response = admin.put(f"/api/v1/sites/{north}/details", json=body)
        assert response.status_code == 422 and response.json()["field"] == field, (body, response.text)
    for body, field in (
        (
            {
                "hours": [{"weekday": "mon", "open": "08:00", "close": "17:00", "nurses": 101}],
                "patients_per_nurse": 1,
                "starts_per_nurse_per_slot": 1,
            },
            "hours.0.nurses",
        ),
        ({"hours": [], "patients_per_nurse": 21, "starts_per_nurse_per_slot": 1}, "patients_per_nurse"),
        ({"hours": [], "patients_per_nurse": 1, "starts_per_nurse_per_slot": 0}, "starts_per_nurse_per_slot"),
    ):
        response = admin.put(f"/api/v1/sites/{north}/hours", json=body)
        assert response.status_code == 422 and response.json()["field"] == field, (body, response.text)
    longest = {"date": FAR.isoformat(), "end_date": (FAR + dt.timedelta(days=366)).isoformat(), "reason": "x"}
    response = admin.post(f"/api/v1/sites/{north}/closed-dates", json=longest)
    assert response.status_code == 422 and response.json()["field"] == "end_date"
    saved = admin.put(
        f"/api/v1/sites/{north}/details", json={"name": "N", "timezone": "UTC", "lat": 45.5, "lon": -122.6}
    )
    assert saved.status_code == 200 and (saved.json()["lat"], saved.json()["lon"]) == (45.5, -122.6)
