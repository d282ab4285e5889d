"""Form helpers shared by the page routers: field errors as a person reads them, form values, form actions.

The words of a refusal are settled here, once, for every page:

- ``FormFailure.fields`` maps the form's own input names (``rate_ml_per_h``, not ``payload.rate_ml_per_h``;
  ``site_ids``, not ``site_ids.0``) to the problem in words, without the field's code in front of it: it
  is shown beside its input (``macros.field``), and the page's error list names the field by its label.
- ``FormFailure.message`` is the same refusal as one line of sentences, each field by its name in words
  ("Date of birth: cannot be in the future."), for pages that show a refusal in one place.
- A refusal that names no field is a sentence ("Patient 99999 not found."), never "form: ...".

Numbers typed with a decimal comma ("72,5") are read as 72.5 in page forms (``decimal_point``,
``validate_form``, ``form_number``); the JSON API takes JSON numbers and is not concerned.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from igflow.errors import NOT_A_NUMBER, IgflowError, InvalidInput, field_errors, plain_problem
from igflow.web.render import NO_FIELD, field_words, readable, sentence

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


# --- numbers: a decimal comma is a decimal point ---------------------------------------------------------

_DECIMAL_COMMA = re.compile(r"^\s*([+-]?\d+),(\d+)\s*$")
#: "1,000" or "12,500": a thousands separator as much as a decimal comma; left for the person to say
_THOUSANDS = re.compile(r"^\s*[+-]?[1-9]\d{0,2}(?:,\d{3})+\s*$")


def decimal_point(text: Any) -> Any:
    """``"72,5"`` -> ``"72.5"``: a number typed with a decimal comma, as the form's number.

    Anything else is returned unchanged, and so is a number that may as well be written with a
    thousands separator ("1,000", "12,500"): it is refused as not a number and the person says which
    they meant, rather than reading 1 where 1000 was meant.
    """
    if not isinstance(text, str) or _THOUSANDS.match(text):
        return text
    found = _DECIMAL_COMMA.match(text)
    return f"{found.group(1)}.{found.group(2)}" if found else text


def form_number(value: Any, field: str) -> float | None:
    """A number typed in a page form (a decimal comma accepted); None when left empty."""
    text = str(decimal_point(str(value or "").strip()))
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(f"{field}: {NOT_A_NUMBER}", field) from None


def _takes_decimals(annotation: Any) -> bool:
    """Whether a model field holds a number with decimals (float or Decimal, bare, optional or annotated)."""
    if annotation in (float, Decimal):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _takes_decimals(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_takes_decimals(a) for a in typing.get_args(annotation))
    return False


def decimal_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, f in model.model_fields.items() if _takes_decimals(f.annotation))


def with_decimal_points(model: type[BaseModel], data: Mapping[str, Any]) -> dict[str, Any]:
    """The form's answers with each number the model takes with decimals written with a point."""
    numbers = decimal_fields(model)
    return {k: decimal_point(v) if k in numbers else v for k, v in data.items()}


def validate_form(model: type[M], data: Mapping[str, Any]) -> M:
    """``model.model_validate`` for a page form: numbers with decimals may be typed with a comma."""
    return model.model_validate(with_decimal_points(model, data))


# --- the answers, kept to show the form again -------------------------------------------------------------


def form_values(
    form: Any, skip: tuple[str, ...] = ("csrf_token",), lists: Iterable[str] = ()
) -> dict[str, Any]:
    """The submitted text fields (files left out), for re-showing a form with its errors.

    Each name in ``lists`` (multiple choices: ticked sites, symptoms) keeps every value given, as a list
    of strings; any other name keeps its last value.
    """
    many = set(lists)
    out: dict[str, Any] = {k: v for k, v in form.items() if k not in skip and not hasattr(v, "read")}
    for name in many:
        out[name] = [str(v) for v in form.getlist(name) if not hasattr(v, "read")]
    return out


# --- problems in words -------------------------------------------------------------------------------------


def field_key(name: str) -> str:
    """The form's input name for a problem's location: ``payload.rate_ml_per_h`` -> ``rate_ml_per_h``,
    ``site_ids.0`` -> ``site_ids``."""
    parts = [p for p in str(name).split(".") if p]
    if parts and parts[0] == "payload":
        parts = parts[1:]
    while parts and parts[-1].isdigit():
        parts.pop()
    return ".".join(parts) or "form"


def errors_of(exc: ValidationError | Any) -> dict[str, str]:
    """Field -> problem in words for Pydantic's errors, each field once, by the form's input name."""
    out: dict[str, str] = {}
    by_name = dict(field_errors(exc.errors()))
    for error in exc.errors():
        name = _location(error)
        if name is None:
            continue
        out.setdefault(field_key(name), plain_problem(error))
    for name, message in by_name.items():  # checks across fields name their field in the message
        key = field_key(name)
        if key not in out:
            out[key] = _own_words(name, message.removeprefix("Value error, "))
    return out


_ROOTS = ("body", "query", "path", "header")


def _location(error: Mapping[str, Any]) -> str | None:
    parts = [
        str(p)
        for p in error.get("loc", ())
        if isinstance(p, int) or (re.match(r"^[A-Za-z_][A-Za-z0-9_-]*$", str(p)) and p not in _ROOTS)
    ]
    return ".".join(parts) if parts else None


def _own_words(field: str | None, message: str) -> str:
    """A service's message without its field's code in front ("date_of_birth: cannot ..." -> "cannot ...")."""
    text = str(message)
    if field:
        for prefix in (field, field_key(field)):
            text = text.removeprefix(prefix + ": ")
    return text


def failure_line(fields: Mapping[str, str], labels: Mapping[str, str] | None = None) -> str:
    """Field -> problem as one line of sentences, each field by its label ("Date of birth: cannot be in the
    future."). A problem written as a sentence of its own (it starts with a capital: "That is not a GS1
    code ...") is said without the field's name in front."""
    said = []
    for name, message in fields.items():
        text = str(message).strip()
        if name in NO_FIELD or text[:1].isupper():
            said.append(sentence(text))
        else:
            said.append(f"{field_words(name, labels)}: {sentence(text, capital=False)}")
    return " ".join(said)


@dataclass(frozen=True)
class FormFailure:
    """Why a submitted form was refused, in the shapes the pages show it."""

    message: str  # one line of sentences: "Date of birth: cannot be in the future." or the refusal's words
    fields: dict[str, str]  # input name -> problem, to show beside the inputs (empty when no field is named)
    status_code: int  # 422 for invalid fields, else the refusal's own (403, 404, 409, ...)

    @property
    def errors(self) -> dict[str, str]:
        """Field -> problem for a form's error list; a refusal naming no field is listed under "form"."""
        return self.fields or {"form": self.message}

    @classmethod
    def of(cls, exc: IgflowError | ValidationError) -> FormFailure:
        if isinstance(exc, ValidationError):
            fields = errors_of(exc)
            return cls(failure_line(fields), fields, 422)
        if exc.field:
            fields = {field_key(exc.field): readable(_own_words(exc.field, exc.message))}
            return cls(failure_line(fields), fields, exc.status_code)
        return cls(sentence(readable(exc.message)), {}, exc.status_code)


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


__all__: Sequence[str] = (
    "FormFailure",
    "decimal_point",
    "errors_of",
    "field_key",
    "form_action",
    "form_number",
    "form_values",
    "validate_form",
    "with_decimal_points",
)
