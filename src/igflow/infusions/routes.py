"""JSON API of the infusions capability."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["infusions"])
