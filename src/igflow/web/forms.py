"""Form helpers shared by the page routers: field errors as a person reads them, form values, form actions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from igflow.errors import IgflowError, field_errors

T = TypeVar("T")


def errors_of(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, message in field_errors(exc.errors()):
        out.setdefault(name, message)
    return out


def form_values(form: Any, skip: tuple[str, ...] = ("csrf_token",)) -> dict[str, Any]:
    """The submitted text fields (files left out), for re-showing a form with its errors."""
    return {k: v for k, v in form.items() if k not in skip and not hasattr(v, "read")}


@dataclass(frozen=True)
class FormFailure:
    """Why a submitted form was refused, in the shapes the pages show it."""

    message: str  # one line: "field: problem; ..." for invalid fields, else the service's own words
    fields: dict[str, str]  # field -> problem, to show beside the inputs (empty when no field is named)
    status_code: int  # 422 for invalid fields, else the refusal's own (403, 404, 409, ...)

    @property
    def errors(self) -> dict[str, str]:
        """Field -> problem for a form's error list; a refusal naming no field is listed under "form"."""
        return self.fields or {"form": self.message}

    @classmethod
    def of(cls, exc: IgflowError | ValidationError) -> FormFailure:
        if isinstance(exc, ValidationError):
            fields = errors_of(exc)
            return cls("; ".join(f"{k}: {v}" for k, v in fields.items()), fields, 422)
        return cls(exc.message, {exc.field: exc.message} if exc.field else {}, exc.status_code)


async def form_action(
    session: Session,
    action: Callable[[], T],
    then: str | Callable[[T], str | Response],
    refused: Callable[[FormFailure], Response],
) -> Response:
    """A page's form submission: run the action, go where ``then`` says; when refused, show the form again.

    ``action`` (validate the form, call the service) runs in the thread pool. On success ``then``
    gives the page to go to (a 303 redirect: reloading it does not submit again), or a response
    of its own. When the action raises ``ValidationError`` or ``IgflowError`` the session is
    rolled back, so the page shown again holds nothing half-done, and ``refused`` renders the same
    page with the failure (its message or field errors, and the submitted values it closes over).
    """
    try:
        result = await run_in_threadpool(action)
    except (ValidationError, IgflowError) as exc:
        session.rollback()
        return refused(FormFailure.of(exc))
    target = then if isinstance(then, str) else then(result)
    return RedirectResponse(target, status_code=303) if isinstance(target, str) else target
