"""Pharmacy pages of the inventory capability (stock, expiry, pick lists, shortage, recall)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
