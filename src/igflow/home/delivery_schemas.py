"""API shapes of deliveries to a patient's home, their cold chain, and the stock kept at home."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeliveryLineIn(_In):
    lot_id: int
    vials: int = Field(ge=1, le=500)


class DeliveryIn(_In):
    """Plan a delivery. The vials come from the order's verified plan (``infusions`` infusions' worth, or
    the visit's day when ``appointment_id`` names a home visit) picked first-expiry-first-out, or from
    ``lines`` when the pharmacist chooses the lots."""

    patient_id: int
    from_site_id: int
    needed_by: dt.date | None = None  # the visit's date when appointment_id is given
    appointment_id: int | None = None
    order_id: int | None = None
    infusions: int = Field(default=1, ge=1, le=12)
    lines: list[DeliveryLineIn] | None = Field(default=None, min_length=1, max_length=20)
    supplies: str = Field(default="", max_length=2000)


class VersionIn(_In):
    version: int | None = Field(default=None, ge=1)  # the version read: a change meanwhile is a 409


class ShipIn(VersionIn):
    carrier: str = Field(min_length=1, max_length=100)
    carrier_reference: str = Field(min_length=1, max_length=100)


class ReadingIn(_In):
    at: dt.datetime  # without a zone: the organisation's local time
    celsius: float = Field(ge=-80, le=80)


class ReadingsIn(_In):
    """The temperature logger's readings (and the courier's own excursion flag). When a product's storage
    range is not in the catalog, ``judgement`` (with a ``note``) is the pharmacist's decision."""

    readings: list[ReadingIn] = Field(default_factory=list, max_length=5000)
    courier_excursion: bool = False
    judgement: Literal["within", "excursion"] | None = None
    note: str = Field(default="", max_length=2000)


class ReceiveIn(VersionIn):
    logger_alarm: bool = False  # the box's logger or indicator shows an alarm: an excursion
    note: str = Field(default="", max_length=2000)


class ExcursionIn(_In):
    note: str = Field(min_length=3, max_length=2000)


class ReleaseIn(_In):
    reason: str = Field(min_length=3, max_length=2000)


class WasteIn(_In):
    reason: str = Field(min_length=3, max_length=2000)
    replan: bool = True  # plan a replacement delivery of the same vials
    needed_by: dt.date | None = None  # the replacement's; default the wasted delivery's


class CancelIn(VersionIn):
    reason: str = Field(min_length=3, max_length=2000)


class DeliveryLineOut(BaseModel):
    lot_id: int
    lot_number: str
    product_id: str
    product_name: str
    vial_size_g: float
    vials: int
    effective_expiry: dt.date | None


class ReadingOut(BaseModel):
    at: dt.datetime
    celsius: float
    out_of_range: str | None = None  # why, in words


class StorageOut(BaseModel):
    product_id: str
    product_name: str
    range_words: str
    known: bool
    source: str | None
    note: str | None


class HeldOut(BaseModel):
    lot_id: int
    lot_number: str
    vials: int


class DeliveryOut(BaseModel):
    id: int
    patient_id: int
    from_site_id: int
    from_site_name: str
    appointment_id: int | None
    order_id: int | None
    needed_by: dt.date
    status: str
    status_words: str
    carrier: str
    carrier_reference: str
    supplies: str
    packed_at: dt.datetime | None
    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None
    received_at: dt.datetime | None
    received_by_user_id: int | None
    excursion: bool
    excursion_note: str
    version: int
    lines: list[DeliveryLineOut]
    readings: list[ReadingOut]
    storage: list[StorageOut]
    next_statuses: list[str]
    excursion_open: bool  # held vials waiting for the pharmacist's release or waste
    held: list[HeldOut]
    task_id: int | None
    replacement_id: int | None = None
    replacement_note: str = ""


QueueKind = Literal["excursion", "late", "not_shipped", "no_delivery", "due"]


class QueueItemOut(BaseModel):
    kind: QueueKind
    delivery_id: int | None
    patient_id: int
    appointment_id: int | None
    needed_by: dt.date
    status: str | None
    words: str  # what is wrong
    todo: str  # what to do


class HomeStockOut(BaseModel):
    lot_id: int
    lot_number: str
    product_id: str
    product_name: str
    vial_size_g: float
    on_hand: int
    held: int
    effective_expiry: dt.date | None
