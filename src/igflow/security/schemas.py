"""API shapes of the security capability."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from igflow.types import Id


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    username: str = Field(min_length=2, max_length=64)
    display_name: str = Field(min_length=1, max_length=200)
    password: str | None = Field(default=None, max_length=256)
    roles: list[str] = Field(min_length=1, max_length=20)
    site_ids: list[Id] = Field(default_factory=list, max_length=1000)
    patient_id: Id | None = None
    is_service_account: bool = False


class RolesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[str] = Field(min_length=1, max_length=20)
    site_ids: list[Id] | None = Field(
        default=None,
        max_length=1000,
        description="Also replace the site limits (empty: every site); left out: unchanged",
    )


class SitesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_ids: list[Id] = Field(
        max_length=1000, description="The only sites the user may work at; empty: every site"
    )


class ActiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(max_length=256)


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    active: bool
    is_service_account: bool
    roles: list[str]
    site_ids: list[int]
    patient_id: int | None
    created_at: datetime


class FailedSignInOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    at: datetime
    client_address: str


class MeOut(UserOut):
    failed_sign_ins_since_last: int = Field(
        description="Failed sign-ins for this account since its previous successful one (30 days at most)"
    )
    recent_failed_sign_ins: list[FailedSignInOut] = Field(description="The latest of them, newest first")


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    user_id: Id
    name: str = Field(min_length=1, max_length=100)
    roles: list[str] = Field(min_length=1, max_length=20)
    expires_days: int = Field(default=90, ge=1, le=365)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    user_id: int
    name: str
    prefix: str
    roles: list[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenIssued(TokenOut):
    token: str = Field(description="Shown once; igflow keeps only its digest.")


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int = Field(description="Append order, given by the database when the row is written.")
    seq: int | None = Field(description="Position in the hash chain; empty until the sealer chains the row.")
    at: datetime
    actor_user_id: int | None
    actor: str
    action: str
    resource_type: str
    resource_id: str | None
    patient_id: int | None
    outcome: str
    client_address: str | None
    detail: str


class CheckpointCheckOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    source: str
    last_seq: int
    head_hash: str
    at: str
    key_id: str
    signature_ok: bool
    matches_chain: bool | None


class VerifyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    ok: bool
    rows_checked: int = Field(description="Sealed rows walked along the hash chain.")
    first_broken_seq: int | None
    problem: str | None = Field(description="The first of ``problems``.")
    problems: list[str] = Field(default_factory=list)
    latest_checkpoint: CheckpointCheckOut | None = None
    checkpoints_checked: int = 0
    truncated_rows: int = Field(default=0, description="Rows missing from the end, by a signed checkpoint.")
    uncovered_rows: int = Field(default=0, description="Sealed rows that no signed checkpoint covers.")
    unsealed_rows: int = Field(default=0, description="Rows written but not chained yet.")
    unsealed_oldest_at: datetime | None = None
    unsealed_lag_s: float | None = None
