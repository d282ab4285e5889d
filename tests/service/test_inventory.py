"""Inventory service: the ledger and its balances agree, the database itself refuses negative stock, and
parallel dispensing of the last vials on PostgreSQL lets exactly the available count through."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from igflow.errors import Conflict, IgflowError, InvalidInput
from igflow.inventory import service
from igflow.inventory.core import Ledger, LedgerError, Move
from igflow.inventory.models import StockBalance, StockMove
from igflow.inventory.schemas import ReceiptIn, ReturnIn, StatusIn, TransferIn, WasteIn
from igflow.security.models import User
from igflow.security.principal import Principal
from igflow.security.service import principal_for_user
from tests.api.test_inventory_api import booked_appointment, gtin, patient, receive
from tests.conftest import World


def _principal(world: World, username: str) -> Principal:
    with world.db.session() as session:
        user = session.get(User, world.users[username])
        assert user is not None
        return principal_for_user(user, client_address="test")


def _receipt(
    world: World, lot: str, count: int, code: str = "360000000001", site: str = "north"
) -> ReceiptIn:
    return ReceiptIn(
        product_id="gammagard-liquid",
        lot_number=lot,
        gtin=gtin(code),
        label_expiry="2027-06-30",  # type: ignore[arg-type]
        vial_size_g=10,
        site_id=world.sites[site],
        count=count,
        acquisition_cost_cents=100000,
        supplier="Test",
    )


def test_database_check_refuses_negative_stock_directly(world: World) -> None:
    pharm = _principal(world, "pharmacist")
    with world.db.session() as session:
        lot = service.receive(session, pharm, _receipt(world, "CHK1", 2))
    with world.db.session() as session, pytest.raises(IntegrityError):
        session.execute(update(StockBalance).where(StockBalance.lot_id == lot.id).values(on_hand=-1))
        session.commit()
    with world.db.session() as session, pytest.raises(IntegrityError):
        session.execute(update(StockBalance).where(StockBalance.lot_id == lot.id).values(allocated=3))
        session.commit()


def test_random_moves_agree_with_the_pure_ledger(world: World) -> None:
    """Every move the service accepts, the pure core accepts too (and vice versa); balances = replay."""
    pharm = _principal(world, "pharmacist")
    rng = random.Random(7)
    sites = [world.sites["north"], world.sites["south"]]
    with world.db.session() as session:
        lot = service.receive(session, pharm, _receipt(world, "RND1", 5))
    model = Ledger.replay([Move(str(lot.id), "receipt", 5, str(sites[0]))])
    accepted = refused = 0
    for step in range(60):
        kind = rng.choice(["receipt", "transfer", "waste", "waste", "quarantine", "release"])
        site = rng.choice(sites)
        count = rng.randint(1, 4)
        with world.db.session() as session:
            try:
                if kind == "receipt":
                    data = _receipt(world, "RND1", count, site="north" if site == sites[0] else "south")
                    service.receive(session, pharm, data)
                    expected = [Move(str(lot.id), "receipt", count, str(site))]
                elif kind == "transfer":
                    other = sites[1] if site == sites[0] else sites[0]
                    moves = [
                        Move(str(lot.id), "transfer_out", count, str(site)),
                        Move(str(lot.id), "transfer_in", count, str(other)),
                    ]
                    expected = moves
                    service.transfer(
                        session, pharm, lot.id, TransferIn(from_site_id=site, to_site_id=other, count=count)
                    )
                elif kind == "waste":
                    expected = [Move(str(lot.id), "waste", count, str(site))]
                    service.waste(
                        session, pharm, lot.id, WasteIn(site_id=site, count=count, waste_reason="broken")
                    )
                else:
                    expected = [Move(str(lot.id), kind, 0, str(sites[0]))]  # type: ignore[arg-type]
                    service.change_status(session, pharm, lot.id, StatusIn(action=kind, reason="test"))  # type: ignore[arg-type]
                ok = True
            except (Conflict, InvalidInput):
                session.rollback()
                ok = False
        try:
            if kind == "quarantine" and model.lot_status(str(lot.id)) == "quarantined":
                # the service refuses a second quarantine (the core tolerates it as a no-op)
                raise LedgerError("invalid_status_change", "already quarantined")
            for move in expected:
                model.check(move)
                model.apply(move)
            model_ok = True
        except LedgerError:
            model_ok = False
        assert ok == model_ok, f"step {step}: {kind} {count} at {site}: service {ok}, core {model_ok}"
        accepted, refused = accepted + ok, refused + (not ok)
    assert accepted > 10 and refused > 5
    with world.db.session() as session:
        assert service.ledger_check(session) == []
        for balance in session.execute(select(StockBalance)).scalars():
            assert balance.on_hand == model.stock(str(lot.id), str(balance.site_id)).on_hand_count


def test_ledger_replay_after_allocation_dispense_return_and_recall(world: World) -> None:
    pid = patient(world, "yan", "SRV001")
    booked = booked_appointment(world, pid)
    appt, plan = booked["appointment"], booked["plan"]
    vials = next(d for d in plan["days"] if d["day"] == 1)["vials"]
    lots = [
        receive(world, lot=f"R{k}", code=f"37000000000{k}", size=v["size_g"], count=v["count"] + 2)
        for k, v in enumerate(vials)
    ]
    pharm, nurse = _principal(world, "pharmacist"), _principal(world, "nurse")
    day = __import__("datetime").date.fromisoformat(appt["date"])
    with world.db.session() as session:
        run = service.run_allocation(session, pharm, day, 1)
        assert run.shortfalls == []
    with world.db.session() as session:
        move = service.dispense(
            session, nurse, appt["id"], lots[0]["id"], vials[0]["count"] + 1, client_id="c-0001"
        )
        again = service.dispense(
            session, nurse, appt["id"], lots[0]["id"], vials[0]["count"] + 1, client_id="c-0001"
        )
        assert again.id == move.id
        with pytest.raises(Conflict):  # same client id, different request
            service.dispense(session, nurse, appt["id"], lots[0]["id"], 1, client_id="c-0001")
        service.return_vials(session, nurse, lots[0]["id"], ReturnIn(appointment_id=appt["id"], count=1))
        with pytest.raises(Conflict):
            service.return_vials(session, nurse, lots[0]["id"], ReturnIn(appointment_id=appt["id"], count=99))
        session.rollback()
        service.change_status(session, pharm, lots[-1]["id"], StatusIn(action="recall", reason="notice"))
        assert service.ledger_check(session) == []
        trace = service.trace_lot(session, pharm, lots[0]["lot_number"])
        assert [(r.patient_id, r.vial_count) for r in trace] == [(pid, vials[0]["count"])]
        kinds = [
            m.kind
            for m in session.execute(
                select(StockMove).where(StockMove.lot_id == lots[0]["id"]).order_by(StockMove.id)
            ).scalars()
        ]
        assert kinds == ["receipt", "allocation", "dispense", "return"]
        audited = session.execute(
            text("select count(*) from audit_event where action = 'inventory.dispense' and patient_id = :p"),
            {"p": pid},
        ).scalar_one()
        assert audited == 1


def _parallel(
    world: World, appointment_id: int, lot_id: int, threads: int, per_thread: int
) -> dict[str, Any]:
    nurse = _principal(world, "nurse")
    barrier = threading.Barrier(threads)
    results: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        barrier.wait()
        for k in range(per_thread):
            with world.db.session() as session:
                try:
                    service.dispense(session, nurse, appointment_id, lot_id, 1, client_id=f"t{n:03d}-{k:05d}")
                    outcome = "ok"
                except Conflict:
                    session.rollback()
                    outcome = "refused"
                except IgflowError as exc:  # pragma: no cover - would fail the test below
                    session.rollback()
                    outcome = f"other: {exc.message}"
            with lock:
                results.append(outcome)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "ok": results.count("ok"),
        "refused": results.count("refused"),
        "other": [r for r in results if r not in ("ok", "refused")],
        "elapsed": elapsed,
    }


@pytest.mark.postgres
def test_parallel_dispensing_of_the_last_vials_on_postgresql(world: World) -> None:
    if not world.db.is_postgres:
        pytest.skip("concurrency is tested on PostgreSQL (SQLite serialises writers)")
    pid = patient(world, "zed", "SRV002")
    appt = booked_appointment(world, pid)["appointment"]
    plan_size = 10
    last = receive(world, lot="LAST", code="380000000001", size=plan_size, count=3)
    outcome = _parallel(world, appt["id"], last["id"], threads=12, per_thread=1)
    assert outcome["other"] == []
    assert (outcome["ok"], outcome["refused"]) == (3, 9)
    with world.db.session() as session:
        balance = session.execute(select(StockBalance).where(StockBalance.lot_id == last["id"])).scalar_one()
        assert balance.on_hand == 0
        assert service.ledger_check(session) == []

    # throughput: 8 threads dispensing 1 vial at a time from a lot of 200 (with audit rows)
    big = receive(world, lot="BULK", code="380000000002", size=plan_size, count=200)
    outcome = _parallel(world, appt["id"], big["id"], threads=8, per_thread=30)
    assert outcome["other"] == [] and (outcome["ok"], outcome["refused"]) == (200, 40)
    rate = (outcome["ok"] + outcome["refused"]) / outcome["elapsed"]
    print(
        f"\nPostgreSQL parallel dispense: 8 threads, 240 requests, 200 committed, 40 refused at zero, "
        f"{outcome['elapsed']:.2f} s, {rate:.0f} requests/s, {outcome['ok'] / outcome['elapsed']:.0f} moves/s"
    )
    with world.db.session() as session:
        assert service.ledger_check(session) == []
        balance = session.execute(select(StockBalance).where(StockBalance.lot_id == big["id"])).scalar_one()
        assert balance.on_hand == 0


def test_demo_inventory_recall_trace_and_cli(db: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    import typer
    from rich.console import Console
    from typer.testing import CliRunner

    from igflow.cli.lots import lots_app
    from igflow.config import get_settings
    from igflow.demo.inventory import load_inventory_demo
    from igflow.demo.network import load_demo
    from igflow.inventory.models import InventoryLot
    from igflow.security.audit import SYSTEM

    quiet = Console(file=io.StringIO())
    assert load_demo(db, seed=7, patients=40, orders=15, console=quiet)  # calls load_inventory_demo
    assert load_inventory_demo(db, seed=7, console=quiet)["lots"] == 0  # safe to re-run: nothing added
    with db.session() as session:
        lots = session.execute(select(InventoryLot)).scalars().all()
        assert len(lots) > 20 and len({lot.site_id for lot in lots}) >= 2
        recalled = [lot for lot in lots if lot.status == "recalled"]
        assert len(recalled) == 1
        rows = service.trace_lot_as(session, SYSTEM, recalled[0].lot_number)
        assert len({r.patient_id for r in rows}) >= 1
        assert service.ledger_check(session) == []
        today = __import__("datetime").date.today()
        expiring = service.expiring(session, None, today, 90)  # type: ignore[arg-type]
        assert expiring, "the demo has lots expiring within 90 days"
        lot_number = recalled[0].lot_number
    monkeypatch.setenv("IGFLOW_DATABASE_URL", db.url)
    get_settings.cache_clear()
    try:
        app = typer.Typer()
        app.add_typer(lots_app, name="lots")
        out = tmp_path / "trace.csv"
        result = CliRunner().invoke(app, ["lots", "trace", lot_number, "--csv", str(out)])
        assert result.exit_code == 0, result.output
        lines = out.read_text().splitlines()
        assert (
            lines[0] == "patient,mrn,date,site,appointment,lot,product,vials" and len(lines) == len(rows) + 1
        )
        missing = CliRunner().invoke(app, ["lots", "trace", "NO-SUCH-LOT"])
        assert missing.exit_code == 2
    finally:
        get_settings.cache_clear()
