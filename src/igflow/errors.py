"""Errors that services raise and the app turns into clear 4xx responses naming the field."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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


# --- Pydantic's problems in words ---------------------------------------------------------------------------

#: what a number field says when it is given something else (page forms read "72,5" as 72.5 too)
NOT_A_NUMBER = "enter a number, such as 72.5"


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


#: patterns of the schemas, in the words of what to type
_PATTERN_WORDS = {
    r"^[A-Za-z0-9-]{3,32}$": "use 3 to 32 letters, digits or hyphens",
    r"^[0-9]{14}$": "enter the 14 digits of the GTIN",
    r"^[!-~]+$": "use letters, digits and signs, without spaces",
    r"^[0-9+() .-]*$": "use digits, spaces and + ( ) . - only",
}


def plain_problem(error: Mapping[str, Any]) -> str:
    """One of Pydantic's errors as the problem a person can fix, without the field's name in front."""
    kind, ctx = str(error.get("type", "")), error.get("ctx") or {}
    given = error.get("input")
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if kind == "missing" or (isinstance(given, str) and not given.strip() and kind != "value_error"):
        return "this is needed"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {_number(ctx.get(key))}"
    if kind.startswith("int_"):
        return "enter a whole number"
    if kind.startswith("float_") or kind.startswith("decimal_") or kind == "finite_number":
        return NOT_A_NUMBER
    if kind.startswith("bool_"):
        return "answer yes or no"
    if kind.startswith("time_"):
        return "enter a time like 08:30"
    if kind.startswith("datetime_"):
        return "enter a date and time"
    if kind.startswith("date_"):
        return "enter a date (YYYY-MM-DD)"
    if kind == "string_too_short":
        least = ctx.get("min_length")
        return "this is needed" if least == 1 else f"use at least {least} characters"
    if kind == "string_too_long":
        return f"use at most {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        return _PATTERN_WORDS.get(str(ctx.get("pattern")), "is not written the way this field takes it")
    if kind in ("literal_error", "enum"):
        return "choose one of the choices offered"
    if kind == "too_long":
        return f"choose at most {ctx.get('max_length')}"
    if kind == "too_short":
        least = ctx.get("min_length")
        return "choose at least one" if least == 1 else f"choose at least {least}"
    if kind == "extra_forbidden":
        return "this form does not take this field"
    if kind == "value_error" and "email" in message.lower():
        return "enter an email address such as name@example.org"
    return message
