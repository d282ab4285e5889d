"""Chair-side pages of the infusions capability (tablet-first)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
