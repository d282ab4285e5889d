"""Errors raised by the clinical engine."""

from __future__ import annotations


class DoseInputError(ValueError):
    """Invalid input to the dose engine: names the field and what is allowed.

    This is an input problem (the caller must fix the request), not a clinical alert.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
