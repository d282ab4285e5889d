"""API shapes of the patients capability."""

from __future__ import annotations

from datetime import date, datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from igflow.types import DateOfBirth, Id, RecordDate

T = TypeVar("T")
Sex = Literal["female", "male", "other", "unknown"]
YesNoUnknown = Literal["yes", "no", "unknown"]
Pregnancy = Literal["not_pregnant", "pregnant", "unknown", "not_applicable"]
MeasurementKind = Literal["weight_kg", "height_cm", "creatinine_umol_per_l", "egfr_ml_per_min_1_73m2"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClinicalFlags(_In):
    allergies: str = Field(default="", max_length=4000)
    prior_severe_ig_reaction: bool = False
    iga_deficiency_anti_iga: YesNoUnknown = "unknown"
    pregnancy_status: Pregnancy = "unknown"
    renal_impairment: bool = False
    diabetes: bool = False
    heart_failure: bool = False
    thrombosis_history: bool = False
    hyperviscosity: bool = False
    hyperprolinaemia: bool = False


class PatientIn(ClinicalFlags):
    mrn: str = Field(pattern=r"^[A-Za-z0-9-]{3,32}$")
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: DateOfBirth
    sex: Sex
    phone: str = Field(default="", max_length=40, pattern=r"^[0-9+() .-]*$")
    email: EmailStr | Literal[""] = ""
    address: str = Field(default="", max_length=400)
    home_lat: float | None = Field(default=None, ge=-90, le=90, description="the home's latitude, for visits")
    home_lon: float | None = Field(default=None, ge=-180, le=180, description="the home's longitude")
    site_ids: list[Id] = Field(
        default_factory=list, max_length=100, description="Preferred sites, first is preferred"
    )

    @field_validator("site_ids")
    @classmethod
    def _unique_sites(cls, value: list[int]) -> list[int]:
        if len(value) != len(set(value)):
            raise ValueError("a site may appear once")
        return value


class PatientPatch(_In):
    """Partial update. ``version`` (or an If-Match header) must name the version being changed."""

    version: int | None = None
    given_name: str | None = Field(default=None, min_length=1, max_length=100)
    family_name: str | None = Field(default=None, min_length=1, max_length=100)
    date_of_birth: DateOfBirth | None = None
    sex: Sex | None = None
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9+() .-]*$")
    email: EmailStr | Literal[""] | None = None
    address: str | None = Field(default=None, max_length=400)
    home_lat: float | None = Field(default=None, ge=-90, le=90)
    home_lon: float | None = Field(default=None, ge=-180, le=180)
    site_ids: list[Id] | None = Field(default=None, max_length=100)
    allergies: str | None = Field(default=None, max_length=4000)
    prior_severe_ig_reaction: bool | None = None
    iga_deficiency_anti_iga: YesNoUnknown | None = None
    pregnancy_status: Pregnancy | None = None
    renal_impairment: bool | None = None
    diabetes: bool | None = None
    heart_failure: bool | None = None
    thrombosis_history: bool | None = None
    hyperviscosity: bool | None = None
    hyperprolinaemia: bool | None = None
    change_reason: str | None = Field(
        default=None,
        max_length=400,
        description="why the facts changed; needed when a screening fact, the date of birth or sex changes",
    )


class MeasurementIn(_In):
    kind: MeasurementKind
    value: float
    measured_on: RecordDate
    amends_id: Id | None = None
    note: str = Field(default="", max_length=400)


class MeasurementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    value: float
    measured_on: date
    recorded_at: datetime
    recorded_by_user_id: int | None
    amends_id: int | None
    note: str


class PatientSummary(BaseModel):
    """What scheduling and search need: identity, contact, preferred sites. No clinical facts."""

    id: int
    mrn: str
    given_name: str
    family_name: str
    date_of_birth: date
    age_years: int
    sex: str
    phone: str
    email: str
    address: str
    home_lat: float | None = None
    home_lon: float | None = None
    site_ids: list[int]
    version: int


class PatientClinical(PatientSummary):
    allergies: str
    prior_severe_ig_reaction: bool
    iga_deficiency_anti_iga: str
    pregnancy_status: str
    renal_impairment: bool
    diabetes: bool
    heart_failure: bool
    thrombosis_history: bool
    hyperviscosity: bool
    hyperprolinaemia: bool
    latest: dict[str, MeasurementOut]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
