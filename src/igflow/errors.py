"""Errors that services raise and the app turns into clear 4xx responses naming the field."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any


class IgflowError(Exception):
    status_code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(IgflowError):
    status_code = 422


class NotFound(IgflowError):
    status_code = 404


class Forbidden(IgflowError):
    status_code = 403


class Conflict(IgflowError):
    status_code = 409


class PreconditionRequired(IgflowError):
    status_code = 428


class TooManyAttempts(IgflowError):
    status_code = 429


class Unauthenticated(IgflowError):
    status_code = 401


_LOCATION_ROOTS = ("body", "query", "path", "header")
_FIELD_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def field_errors(errors: Sequence[Any]) -> list[tuple[str, str]]:
    """(field, message) pairs from Pydantic errors, naming fields as a person would (``site_ids.0``).

    Union members add tags such as ``function-after[...]`` to an error's location; they are dropped,
    and for a field that failed every member of a union only the first message is kept.
    """
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for error in errors:
        parts = [
            str(p)
            for p in error.get("loc", ())
            if isinstance(p, int) or (_FIELD_PART.match(str(p)) and p not in _LOCATION_ROOTS)
        ]
        name = ".".join(parts) or "request"
        message = str(error.get("msg", "invalid"))
        if name == "request":  # a check across fields names its field first: "Value error, end_date: ..."
            named = re.match(r"^(?:Value error, )?([a-z][a-z0-9_]*): (.+)$", message, re.S)
            if named:
                name, message = named.group(1), named.group(2)
                error = {**error, "msg": message}
        if name in seen and error.get("type") == "literal_error":
            continue
        seen.add(name)
        out.append((name, str(error.get("msg", "invalid"))))
    return out
