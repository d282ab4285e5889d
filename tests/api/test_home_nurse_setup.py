"""Home nurses set up on their pages (issue 12, after issue 11 left no way to add one): a planner adds a nurse
(name, linked sign-in, home base, skills, visits a day, weekly hours), edits her, and records days off
(one day or a range). Each change is audited with what it was and what it became; a refused form comes
back with each problem once, in words, beside its field, and every answer kept."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select

from igflow.home.models import HomeNurse, HomeNurseAbsence
from igflow.security.models import AuditEvent
from igflow.sites.models import Site
from tests.conftest import World

SOON = dt.date.today() + dt.timedelta(days=30)


def _home_site(world: World, code: str = "home") -> int:
    with world.db.session() as session:
        site = Site(code=code, name=f"Home service {code}", kind="home", timezone="America/Los_Angeles")
        session.add(site)
        session.commit()
        world.sites[code] = site.id
        return site.id


def _post(world: World, user: str, url: str, data: dict[str, Any]) -> Any:
    client = world.client(user)
    return client.post(url, data={**data, "csrf_token": client.csrf})


def _form(**changes: str) -> dict[str, str]:
    form = {
        "name": "Nadia Homecare (synthetic)",
        "user_id": "",
        "region": "East",
        "home_lat": "34.05",
        "home_lon": "-118.25",
        "skill_ivig_home": "1",
        "skill_paediatric": "1",
        "max_visits_per_day": "3",
        "start_0": "08:00",
        "end_0": "16:00",
        "break_0": "30",
        "start_2": "09:00",
        "end_2": "17:00",
        "break_2": "0",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v != "<drop>"}


def _nurse(world: World, session_id: int) -> HomeNurse:
    with world.db.session() as session:
        nurse = session.get(HomeNurse, session_id)
        assert nurse is not None
        session.expunge(nurse)
        return nurse


def _audit(world: World, action: str) -> list[dict[str, Any]]:
    with world.db.session() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return [json.loads(e.detail) for e in rows.scalars()]


def _created(world: World, **changes: str) -> int:
    response = _post(world, "scheduler", "/home/nurses", _form(**changes))
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.endswith("?saved=created")
    return int(location.split("/home/nurses/")[1].split("?")[0])


def test_a_planner_adds_a_home_nurse_on_the_page(world: World) -> None:
    site = _home_site(world)
    new = world.client("scheduler").get("/home/nurses/new")
    assert new.status_code == 200 and "Add nurse" in new.text
    assert f'<option value="{world.users["nurse"]}"' in new.text  # a staff nurse's sign-in may be linked
    assert f'<option value="{world.users["pharmacist"]}"' not in new.text
    nurse_id = _created(world, user_id=str(world.users["nurse"]))
    page = world.client("scheduler").get(f"/home/nurses/{nurse_id}?saved=created")
    assert page.status_code == 200 and "Nurse added." in page.text
    assert (
        'value="Nadia Homecare (synthetic)"' in page.text
        and 'name="start_0" type="time" value="08:00"' in page.text
    )
    assert 'name="skill_paediatric" value="1" checked' in page.text
    nurse = _nurse(world, nurse_id)
    assert (nurse.site_id, nurse.user_id, nurse.region) == (site, world.users["nurse"], "East")
    assert (nurse.home_lat, nurse.home_lon, nurse.max_visits_per_day) == (34.05, -118.25, 3)
    assert sorted(nurse.skills) == ["ivig_home", "paediatric"]
    assert [(s.weekday, s.start_min, s.end_min, s.break_min) for s in nurse.shifts] == [
        (0, 480, 960, 30),
        (2, 540, 1020, 0),
    ]
    listed = world.client("nurse").get("/home/nurses")
    assert listed.status_code == 200 and "Nadia Homecare (synthetic)" in listed.text
    assert "Add a home nurse" not in listed.text  # reading nurses is not planning them
    assert "Add a home nurse" in world.client("scheduler").get("/home/nurses").text
    (detail,) = _audit(world, "home_nurse.create")
    assert detail["site_id"] == site and detail["after"]["name"] == "Nadia Homecare (synthetic)"
    assert detail["after"]["shifts"]["Monday"] == {"start_min": 480, "end_min": 960, "break_min": 30}


def test_a_planner_edits_a_nurse_and_the_change_is_audited(world: World) -> None:
    _home_site(world)
    nurse_id = _created(world)
    edit = _form(
        name="Nadia Renamed (synthetic)",
        home_lat="34.1",
        skill_paediatric="<drop>",
        skill_first_dose="1",
        max_visits_per_day="4",
        start_2="<drop>",
        end_2="<drop>",
        break_2="<drop>",
        start_4="07:30",
        end_4="15:30",
        break_4="45",
        end_0="17:00",
    )  # "active" unticked: she leaves service
    saved = _post(world, "scheduler", f"/home/nurses/{nurse_id}", edit)
    assert saved.status_code == 303 and saved.headers["location"] == f"/home/nurses/{nurse_id}?saved=saved"
    page = world.client("scheduler").get(saved.headers["location"])
    assert "Nurse saved." in page.text and "not in service" in page.text
    nurse = _nurse(world, nurse_id)
    assert (nurse.name, nurse.home_lat, nurse.max_visits_per_day, nurse.active) == (
        "Nadia Renamed (synthetic)",
        34.1,
        4,
        False,
    )
    assert sorted(nurse.skills) == ["first_dose", "ivig_home"]
    assert [(s.weekday, s.start_min, s.end_min, s.break_min) for s in nurse.shifts] == [
        (0, 480, 1020, 30),
        (4, 450, 930, 45),
    ]
    (detail,) = _audit(world, "home_nurse.update")
    assert detail["before"]["name"] == "Nadia Homecare (synthetic)"
    assert detail["after"]["name"] == "Nadia Renamed (synthetic)"
    assert detail["before"]["active"] is True and detail["after"]["active"] is False
    assert set(detail["after"]) == {"name", "home_lat", "skills", "max_visits_per_day", "active", "shifts"}
    api = world.client("scheduler").get("/api/v1/home/nurses").json()
    assert [n["name"] for n in api] == ["Nadia Renamed (synthetic)"]


def test_nurse_form_problems_are_said_once_beside_their_field_with_the_answers_kept(world: World) -> None:
    _home_site(world)
    form = _form(
        home_lat="95",
        home_lon="",
        max_visits_per_day="0",
        start_1="16:00",
        end_1="08:00",
        start_3="09:00",
        start_4="25:00",
        end_4="12:00",
        start_5="08:00",
        end_5="09:00",
        break_5="60",
    )
    refused = _post(world, "scheduler", "/home/nurses", form)
    assert refused.status_code == 422
    text = refused.text
    for message, field in (
        ("Home base latitude must be at most 90", "home_lat"),
        ("Home base longitude is needed", "home_lon"),
        ("Visits a day at most must be at least 1", "max_visits_per_day"),
        ("The shift on Tuesday must end after it starts", "end_1"),
        ("Give the end on Thursday too, or leave both times empty", "end_3"),
        ("Start on Friday must be a time like 08:30", "start_4"),
        ("The break on Saturday is as long as the shift or longer", "break_5"),
    ):
        assert text.count(message) == 1, message
        assert f'id="err-{field}"' in text, field
    assert 'value="Nadia Homecare (synthetic)"' in text and 'name="start_1" type="time" value="16:00"' in text
    assert 'name="skill_paediatric" value="1" checked' in text and 'value="95"' in text
    with world.db.session() as session:
        assert session.execute(select(HomeNurse)).scalars().all() == []
    # the same on the edit form, her saved values untouched
    nurse_id = _created(world)
    again = _post(
        world, "scheduler", f"/home/nurses/{nurse_id}", {**_form(active="1"), "name": "", "home_lon": "east"}
    )
    assert again.status_code == 422
    assert (
        again.text.count("Name is needed") == 1
        and again.text.count("Home base longitude must be a number") == 1
    )
    assert 'value="east"' in again.text
    assert _nurse(world, nurse_id).name == "Nadia Homecare (synthetic)"


def test_a_linked_sign_in_must_be_a_staff_user_not_yet_linked(world: World) -> None:
    _home_site(world)
    first = _created(world, user_id=str(world.users["nurse"]))
    taken = _post(
        world,
        "scheduler",
        "/home/nurses",
        _form(name="Second (synthetic)", user_id=str(world.users["nurse"])),
    )
    assert taken.status_code == 409
    assert taken.text.count("That sign-in already belongs to nurse Nadia Homecare (synthetic)") == 1
    assert 'id="err-user_id"' in taken.text and 'value="Second (synthetic)"' in taken.text
    patient = _post(
        world,
        "scheduler",
        f"/home/nurses/{first}",
        _form(active="1", user_id=str(world.users["patient.ann"])),
    )
    assert patient.status_code == 422 and "no active staff sign-in" in patient.text
    assert _nurse(world, first).user_id == world.users["nurse"]


def test_days_off_are_recorded_as_a_range_listed_and_audited(world: World) -> None:
    _home_site(world)
    nurse_id = _created(world)
    last = SOON + dt.timedelta(days=2)
    recorded = _post(
        world,
        "scheduler",
        f"/home/nurses/{nurse_id}/absences",
        {"date": SOON.isoformat(), "end_date": last.isoformat(), "reason": "Annual leave"},
    )
    assert recorded.status_code == 303 and recorded.headers["location"] == f"/home?date={SOON.isoformat()}"
    with world.db.session() as session:
        days = session.execute(select(HomeNurseAbsence.date).where(HomeNurseAbsence.nurse_id == nurse_id))
        assert sorted(days.scalars()) == [SOON + dt.timedelta(days=i) for i in range(3)]
    page = world.client("scheduler").get(f"/home/nurses/{nurse_id}").text
    assert page.count("Annual leave") == 3 and SOON.strftime("%a %d %b %Y") in page
    overlap = _post(
        world,
        "scheduler",
        f"/home/nurses/{nurse_id}/absences",
        {"date": last.isoformat(), "end_date": (last + dt.timedelta(days=3)).isoformat(), "reason": "Sick"},
    )
    assert overlap.status_code == 409
    assert overlap.text.count(f"is already off on {last.isoformat()}") == 1 and 'value="Sick"' in overlap.text
    backwards = _post(
        world,
        "scheduler",
        f"/home/nurses/{nurse_id}/absences",
        {"date": last.isoformat(), "end_date": SOON.isoformat(), "reason": "Sick"},
    )
    assert backwards.status_code == 422
    assert backwards.text.count("The last day off must be on or after the first") == 1
    assert 'id="err-end_date"' in backwards.text
    blank = _post(world, "scheduler", f"/home/nurses/{nurse_id}/absences", {"date": "", "reason": ""})
    assert blank.text.count("First day off is needed") == 1 and blank.text.count("Reason is needed") == 1
    one = _post(
        world,
        "scheduler",
        f"/home/nurses/{nurse_id}/absences",
        {"date": (last + dt.timedelta(days=10)).isoformat(), "reason": "Sick"},
    )
    assert one.status_code == 303
    first, second = _audit(world, "home_nurse.absence")
    assert first == {
        "date": SOON.isoformat(),
        "end_date": last.isoformat(),
        "reason": "Annual leave",
        "visits_without_nurse": [],
    }
    assert second["reason"] == "Sick"


def test_only_planners_at_the_nurses_site_set_nurses_up(world: World) -> None:
    _home_site(world)
    other = _home_site(world, "home-east")
    nurse_id = _created(world)
    assert world.client("nurse").get("/home/nurses/new").status_code == 403
    for url, data in (
        ("/home/nurses", _form()),
        (f"/home/nurses/{nurse_id}", _form(active="1")),
        (f"/home/nurses/{nurse_id}/absences", {"date": SOON.isoformat(), "reason": "x"}),
    ):
        assert _post(world, "nurse", url, data).status_code == 403, url
        assert _post(world, "admin", url, data).status_code == 403, url
    # a planner limited to the other home service: the nurse is not there (404); new nurses join their site
    world.add_user("scheduler.east", ["scheduler"], ["home-east"])
    for url, data in (
        (f"/home/nurses/{nurse_id}", _form(active="1")),
        (f"/home/nurses/{nurse_id}/absences", {"date": SOON.isoformat(), "reason": "x"}),
    ):
        assert _post(world, "scheduler.east", url, data).status_code == 404, url
    assert world.client("scheduler.east").get(f"/home/nurses/{nurse_id}").status_code == 404
    assert "Nadia" not in world.client("scheduler.east").get("/home/nurses").text
    mine = _post(world, "scheduler.east", "/home/nurses", _form(name="East Nurse (synthetic)"))
    assert mine.status_code == 303
    east = _post(
        world,
        "scheduler.east",
        "/home/nurses",
        _form(name="Elsewhere (synthetic)", site_id=str(world.sites["home"])),
    )
    assert east.status_code == 422 and "not a home-infusion site you may plan" in east.text
    with world.db.session() as session:
        sites = dict(session.execute(select(HomeNurse.name, HomeNurse.site_id)).all())
    assert sites["East Nurse (synthetic)"] == other and "Elsewhere (synthetic)" not in sites
    assert _nurse(world, nurse_id).name == "Nadia Homecare (synthetic)"
