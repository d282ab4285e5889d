"""JSON API of deliveries to a patient's home and their cold chain (thin: parse, authorise, call the
service). Pharmacists plan, pack, ship and judge the cold chain; the nurse or the patient confirms receipt."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from igflow.errors import InvalidInput
from igflow.home.delivery_schemas import (
    CancelIn,
    DeliveryIn,
    DeliveryOut,
    ExcursionIn,
    HomeStockOut,
    QueueItemOut,
    ReadingsIn,
    ReceiveIn,
    ReleaseIn,
    ShipIn,
    VersionIn,
    WasteIn,
)
from igflow.home.service import deliveries, delivery_queue, excursions
from igflow.security.deps import get_session, require
from igflow.security.permissions import Perm
from igflow.security.principal import Principal

router = APIRouter(tags=["home deliveries"])

_STATUS = "^(planned|packed|shipped|delivered|received|excursion|cancelled)$"


@router.get("/deliveries", response_model=list[DeliveryOut])
def list_deliveries(
    status: str | None = Query(default=None, pattern=_STATUS),
    principal: Principal = require(Perm.HOME_READ),
    session: Session = Depends(get_session),
) -> list[DeliveryOut]:
    return deliveries.listing(session, principal, status)


@router.get("/deliveries/queue", response_model=list[QueueItemOut])
def delivery_queue_items(
    principal: Principal = require(Perm.HOME_READ), session: Session = Depends(get_session)
) -> list[QueueItemOut]:
    """Excursions, late deliveries, deliveries not shipped within the lead time, home visits without a
    delivery, and what is due: each with what to do."""
    return delivery_queue.queue(session, principal)


@router.post("/deliveries", response_model=DeliveryOut, status_code=201)
def plan_delivery(
    data: DeliveryIn,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> DeliveryOut:
    """Plan a delivery: lots first-expiry-first-out from the verified plan (or the lots given)."""
    return deliveries.plan(session, principal, data)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryOut)
def read_delivery(
    delivery_id: int, principal: Principal = require(Perm.HOME_READ), session: Session = Depends(get_session)
) -> DeliveryOut:
    return deliveries.read(session, principal, delivery_id)


@router.post("/deliveries/{delivery_id}/pack", response_model=DeliveryOut)
def pack(
    delivery_id: int,
    data: VersionIn,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> DeliveryOut:
    """Planned -> packed: the vials leave the pharmacy's stock for the patient's home (409 when short)."""
    return deliveries.pack(session, principal, delivery_id, data)


@router.post("/deliveries/{delivery_id}/ship", response_model=DeliveryOut)
def ship(
    delivery_id: int,
    data: ShipIn,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> DeliveryOut:
    return deliveries.ship(session, principal, delivery_id, data)


@router.post("/deliveries/{delivery_id}/readings", response_model=DeliveryOut)
def readings(
    delivery_id: int,
    data: ReadingsIn,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> DeliveryOut:
    """The temperature logger's readings; one outside the storage range makes the delivery an excursion."""
    return excursions.record_readings(session, principal, delivery_id, data)


@router.post("/deliveries/{delivery_id}/delivered", response_model=DeliveryOut)
def delivered(
    delivery_id: int,
    data: VersionIn,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> DeliveryOut:
    return deliveries.delivered(session, principal, delivery_id, data)


@router.post("/deliveries/{delivery_id}/receive", response_model=DeliveryOut)
def receive(
    delivery_id: int,
    data: ReceiveIn,
    principal: Principal = require(Perm.DELIVERY_RECEIVE),
    session: Session = Depends(get_session),
) -> DeliveryOut:
    """The nurse confirms the delivery arrived at the patient's home."""
    return deliveries.receive(session, principal, delivery_id, data)


@router.post("/deliveries/{delivery_id}/excursion", response_model=DeliveryOut)
def excursion(
    delivery_id: int,
    data: ExcursionIn,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> DeliveryOut:
    """The courier's excursion flag: the vials are held and a pharmacist task opens."""
    return excursions.flag_excursion(session, principal, delivery_id, data)


@router.post("/deliveries/{delivery_id}/release", response_model=DeliveryOut)
def release(
    delivery_id: int,
    data: ReleaseIn,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> DeliveryOut:
    return excursions.release(session, principal, delivery_id, data)


@router.post("/deliveries/{delivery_id}/waste", response_model=DeliveryOut)
def waste(
    delivery_id: int,
    data: WasteIn,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> DeliveryOut:
    """Waste the held vials at the patient's home and plan a replacement."""
    return excursions.waste(session, principal, delivery_id, data)


@router.post("/deliveries/{delivery_id}/cancel", response_model=DeliveryOut)
def cancel(
    delivery_id: int,
    data: CancelIn,
    principal: Principal = require(Perm.DELIVERY_WRITE),
    session: Session = Depends(get_session),
) -> DeliveryOut:
    """Planned or packed -> cancelled (a packed delivery's vials go back to the pharmacy)."""
    return deliveries.cancel(session, principal, delivery_id, data)


@router.get("/patients/{patient_id}/deliveries", response_model=list[DeliveryOut])
def patient_deliveries(
    patient_id: int, principal: Principal = require(Perm.HOME_READ), session: Session = Depends(get_session)
) -> list[DeliveryOut]:
    return deliveries.for_patient(session, principal, patient_id)


@router.get("/patients/{patient_id}/home-stock", response_model=list[HomeStockOut])
def patient_home_stock(
    patient_id: int, principal: Principal = require(Perm.HOME_READ), session: Session = Depends(get_session)
) -> list[HomeStockOut]:
    return deliveries.stock_at_home(session, principal, patient_id)


def _me(principal: Principal) -> int:
    if principal.patient_id is None:
        raise InvalidInput("This account is not linked to a patient record.")
    return principal.patient_id


@router.get("/me/deliveries", response_model=list[DeliveryOut])
def my_deliveries(
    principal: Principal = require(Perm.PATIENT_SELF), session: Session = Depends(get_session)
) -> list[DeliveryOut]:
    return deliveries.for_patient(session, principal, _me(principal))


@router.post("/me/deliveries/{delivery_id}/receive", response_model=DeliveryOut)
def my_receive(
    delivery_id: int,
    data: ReceiveIn,
    principal: Principal = require(Perm.PATIENT_SELF),
    session: Session = Depends(get_session),
) -> DeliveryOut:
    """The patient confirms their delivery arrived."""
    _me(principal)
    return deliveries.receive(session, principal, delivery_id, data)
