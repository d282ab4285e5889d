"""Costs and help (issue 13): the patient reads what their coverage says about their share (copay,
coinsurance, out-of-pocket maximum, in dollars) and their copay-assistance status; with none recorded, a
plain sentence says who to ask (the prior-authorisation team, with the centre's phone). English, Spanish."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from igflow.directory.models import Payer
from igflow.patients.models import Coverage, PatientSite
from igflow.security.models import AuditEvent
from igflow.sites.models import Site
from tests.conftest import World
from tests.support.visible_text import offending, visible_text


def _coverage(world: World, **extra: Any) -> None:
    with world.db.session() as session:
        payer = Payer(code="acme", name="Acme Health")
        session.add(payer)
        session.flush()
        session.add(
            Coverage(
                patient_id=world.patients["ann"],
                payer_id=payer.id,
                plan_name="Gold PPO",
                member_id="AC123",
                rank=1,
                benefit="medical",
                active=True,
                site_of_care="either",
                **extra,
            )
        )
        session.commit()


def _centre_phone(world: World, phone: str) -> str:
    with world.db.session() as session:
        site_id = (
            session.execute(
                select(PatientSite.site_id)
                .where(PatientSite.patient_id == world.patients["ann"])
                .order_by(PatientSite.rank)
            )
            .scalars()
            .first()
        )
        site = session.get(Site, site_id)
        assert site is not None
        site.phone = phone
        session.commit()
        return site.name


def test_the_patient_reads_their_share_in_dollars_and_their_copay_assistance(world: World) -> None:
    _coverage(
        world,
        copay_cents=4000,
        coinsurance_percent=20,
        oop_max_cents=350000,
        assistance_program="IgCare Copay Card",
        assistance_id="X1",
        assistance_limit_cents=1500000,
        assistance_expires_on=dt.date(2099, 12, 31),
    )
    me = world.client("patient.ann")
    page = me.get("/my/costs")
    assert page.status_code == 200 and offending(page.text) == []
    text = visible_text(page.text)
    for words in (
        "Main insurance: Acme Health — Gold PPO",
        "$40.00",
        "20%",
        "$3,500.00",
        "IgCare Copay Card",
        "$15,000.00",
        "31 December 2099",
    ):
        assert words in text, words
    assert "No copay-assistance programme is recorded" not in text
    spanish = visible_text(me.get("/my/costs", headers={"Accept-Language": "es"}).text)
    assert (
        "Seguro principal: Acme Health" in spanish and "40,00 US$" in spanish and "15.000,00 US$" in spanish
    )
    with world.db.session() as session:
        actions = set(session.execute(select(AuditEvent.action)).scalars())
    assert "coverage.read" in actions


def test_with_no_assistance_the_page_says_who_to_ask_with_the_centres_phone(world: World) -> None:
    _coverage(world, copay_cents=None)
    site = _centre_phone(world, "555-0100")
    text = visible_text(world.client("patient.ann").get("/my/costs").text)
    assert "Copay (a set amount you pay)" in text and "not recorded" in text
    assert (
        "No copay-assistance programme is recorded for you. To ask whether one could help with your share, "
        f"contact the prior-authorisation team at {site}, phone 555-0100." in text
    )


def test_with_no_coverage_the_page_says_who_to_ask(world: World) -> None:
    me = world.client("patient.ann")
    text = visible_text(me.get("/my/costs").text)
    assert "No insurance is recorded for you yet." in text and "prior-authorisation team" in text
    spanish = visible_text(me.get("/my/costs", headers={"Accept-Language": "es"}).text)
    assert "Todavía no hay ningún seguro registrado para usted." in spanish


def test_an_ended_assistance_says_so_and_who_renews_it(world: World) -> None:
    _coverage(world, assistance_program="IgCare Copay Card", assistance_expires_on=dt.date(2020, 1, 31))
    text = visible_text(world.client("patient.ann").get("/my/costs").text)
    assert "Ended on" in text and "This copay assistance has ended. To renew it, ask" in text
