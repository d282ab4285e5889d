"""JSON API of the inventory capability."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["inventory"])
