"""API shapes of the FHIR backend clients (administrators' JSON API and page)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from igflow.fhir.smart import jwks as jwks_mod
from igflow.fhir.smart import service
from igflow.types import Id


class BackendClientIn(BaseModel):
    """A client to register: its public keys as a JWK Set (an object, or the JSON text pasted)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=100, description="What the system is, in words")
    user_id: Id = Field(description="The igflow service account it acts as (its roles and site limits apply)")
    jwks: dict[str, Any] | str = Field(
        description='Public keys: {"keys": [...]}, RSA (2048 bits or more) or EC P-384, each with a kid'
    )
    scopes: list[str] = Field(
        min_length=1,
        max_length=50,
        description="Scopes it may be granted: system/Patient.read, system/*.read, system/Observation.rs ...",
    )

    @field_validator("jwks")
    @classmethod
    def _keys(cls, value: dict[str, Any] | str) -> dict[str, Any]:
        try:
            return jwks_mod.validate(value)
        except jwks_mod.JwksError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        return service.parse_scopes(value)


class BackendClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    client_id: str
    name: str
    user_id: int
    scopes: list[str]
    jwks: dict[str, Any]
    enabled: bool
    created_at: datetime
    created_by_user_id: int | None
    disabled_at: datetime | None
    disabled_by_user_id: int | None
