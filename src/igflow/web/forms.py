"""Form helpers shared by the page routers: field errors as a person reads them, form values."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from igflow.errors import field_errors


def errors_of(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, message in field_errors(exc.errors()):
        out.setdefault(name, message)
    return out


def form_values(form: Any, skip: tuple[str, ...] = ("csrf_token",)) -> dict[str, Any]:
    """The submitted text fields (files left out), for re-showing a form with its errors."""
    return {k: v for k, v in form.items() if k not in skip and not hasattr(v, "read")}
