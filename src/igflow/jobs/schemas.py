"""Pydantic shapes of the jobs API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel


class JobOut(BaseModel):
    id: int
    kind: str
    label: str
    state: str
    params: dict[str, Any]
    requested_by_user_id: int
    progress: float
    progress_message: str
    cancel_requested: bool
    result_type: str | None
    result_id: int | None
    result_url: str | None
    result: dict[str, Any] | None
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
