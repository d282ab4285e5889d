"""PURE: the CSV template of each import kind, reading a file as a stream of rows, and one row into the
capability's own input shape (or every reason it cannot be). No database, no clock beyond the schemas'.

Cells: blank means "not given" (the default applies); dates are ISO ``YYYY-MM-DD``; yes/no columns take
``yes``/``no`` (also ``true``/``false``, ``y``/``n``, ``1``/``0``); numbers use a decimal point; units are in
the column's name (``weight_kg``, ``copay_cents``). Column names are matched without regard to case or
surrounding spaces; a column the template does not know is refused (a misspelt column would otherwise be
dropped in silence). docs/imports.md is the same table in words, with an example file of each kind.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

from pydantic import BaseModel, ValidationError

from igflow.coverage.schemas import CoverageIn
from igflow.directory.schemas import PrescriberIn
from igflow.errors import plain_problem
from igflow.patients.schemas import PatientIn

KINDS = ("patients", "prescribers", "coverages", "measurements")
TEXT, DATE, YES_NO, WHOLE, DECIMAL = "text", "date", "yes/no", "whole number", "decimal number"
_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0"})
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WHOLE = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    type: str  # TEXT, DATE, YES_NO, WHOLE, DECIMAL
    description: str
    example: str = ""


@dataclass(frozen=True)
class RowError:
    """A bad row (or the file itself, line 1 for its header): where, and why in words."""

    line: int
    reason: str


@dataclass(frozen=True)
class PatientRow:
    line: int
    data: PatientIn  # without sites: the home site is ``site_code``
    site_code: str


@dataclass(frozen=True)
class PrescriberRow:
    line: int
    data: PrescriberIn


@dataclass(frozen=True)
class CoverageRow:
    line: int
    mrn: str
    payer_code: str
    data: CoverageIn  # payer_id is a placeholder until the payer code is looked up


@dataclass(frozen=True)
class MeasurementRow:
    line: int
    mrn: str
    kind: str  # a measurement kind (weight_kg ...) or a catalog outcome measure id
    value: float
    measured_on: date
    note: str = ""
    method: str = "review"  # outcome readings only: chair, review, patient_reported


Row = PatientRow | PrescriberRow | CoverageRow | MeasurementRow
PAYER_PLACEHOLDER = 1


def _flags() -> list[Column]:
    words = {
        "prior_severe_ig_reaction": "a severe reaction to immunoglobulin before",
        "renal_impairment": "kidney impairment",
        "diabetes": "diabetes",
        "heart_failure": "heart failure",
        "thrombosis_history": "a history of thrombosis",
        "hyperviscosity": "hyperviscosity",
        "hyperprolinaemia": "hyperprolinaemia",
    }
    return [
        Column(name, False, YES_NO, f"The patient has {text} (blank: no).", "no")
        for name, text in words.items()
    ]


COLUMNS: dict[str, tuple[Column, ...]] = {
    "patients": (
        Column(
            "mrn",
            True,
            TEXT,
            "Medical record number: 3 to 32 letters, digits or hyphens; unique.",
            "MRN-10001",
        ),
        Column("family_name", True, TEXT, "Family name (up to 100 characters).", "Rivera"),
        Column("given_name", True, TEXT, "Given name (up to 100 characters).", "Alex"),
        Column("date_of_birth", True, DATE, "Date of birth, YYYY-MM-DD.", "1968-04-02"),
        Column("sex", True, TEXT, "female, male, other or unknown.", "female"),
        Column("site_code", True, TEXT, "The home site's code (Sites page); one of your own sites.", "north"),
        Column("phone", False, TEXT, "Phone number: digits, spaces and + ( ) . -", "+1 503 555 0100"),
        Column("email", False, TEXT, "E-mail address.", "alex.rivera@example.org"),
        Column("address", False, TEXT, "Postal address, one line.", "12 Elm St, Portland OR"),
        Column(
            "home_lat", False, DECIMAL, "Home latitude in degrees (with home_lon), for home visits.", "45.52"
        ),
        Column("home_lon", False, DECIMAL, "Home longitude in degrees (with home_lat).", "-122.68"),
        Column("allergies", False, TEXT, "Allergies, free text.", "Penicillin"),
        Column(
            "iga_deficiency_anti_iga",
            False,
            TEXT,
            "IgA deficiency with anti-IgA: yes, no or unknown.",
            "unknown",
        ),
        Column(
            "pregnancy_status",
            False,
            TEXT,
            "not_pregnant, pregnant, unknown or not_applicable (blank: unknown).",
            "not_applicable",
        ),
        *_flags(),
    ),
    "prescribers": (
        Column("name", True, TEXT, "The prescriber's name as it goes on letters.", "Dr Jamie Chen"),
        Column(
            "npi",
            True,
            TEXT,
            "National Provider Identifier (or another national id), 4 to 20 letters, digits, hyphens; unique",
            "1093817465",
        ),
        Column("specialty", False, TEXT, "Specialty.", "Neurology"),
        Column("phone", False, TEXT, "Phone number.", "+1 503 555 0199"),
        Column("email", False, TEXT, "E-mail address.", "jchen@clinic.example"),
    ),
    "coverages": (
        Column(
            "mrn",
            True,
            TEXT,
            "The patient's MRN (the patient must be in igflow, at one of your sites).",
            "MRN-10001",
        ),
        Column("payer_code", True, TEXT, "The payer's code in igflow's directory.", "acme-health"),
        Column("member_id", True, TEXT, "Member id on the insurance card; unique per payer.", "W123456789"),
        Column("plan_name", False, TEXT, "Plan name.", "Acme Gold PPO"),
        Column("group_number", False, TEXT, "Group number.", "GRP-7781"),
        Column("rank", False, WHOLE, "1 primary (default), 2 secondary, 3 tertiary.", "1"),
        Column("benefit", False, TEXT, "medical (default) or pharmacy.", "medical"),
        Column("effective_from", False, DATE, "First day covered, YYYY-MM-DD.", "2026-01-01"),
        Column("effective_to", False, DATE, "Last day covered, YYYY-MM-DD.", ""),
        Column(
            "site_of_care",
            False,
            TEXT,
            "Where the plan pays for infusions: facility, home or either (default).",
            "either",
        ),
        Column("copay_cents", False, WHOLE, "Copay per infusion in cents.", "2500"),
        Column("coinsurance_percent", False, WHOLE, "Coinsurance in percent, 0 to 100.", "20"),
        Column("oop_max_cents", False, WHOLE, "Out-of-pocket maximum in cents.", "650000"),
    ),
    "measurements": (
        Column("mrn", True, TEXT, "The patient's MRN (in igflow, at one of your sites).", "MRN-10001"),
        Column(
            "kind",
            True,
            TEXT,
            "What was measured, unit in the name: weight_kg, height_cm, creatinine_umol_per_l, "
            "egfr_ml_per_min_1_73m2, pre_pregnancy_weight_kg, or an outcome measure's id from the catalog "
            "(igg-trough, platelet-count, ...).",
            "weight_kg",
        ),
        Column("value", True, DECIMAL, "The value, in the unit the kind names.", "72.5"),
        Column("measured_on", True, DATE, "Date measured, YYYY-MM-DD (not in the future).", "2026-11-20"),
        Column(
            "method", False, TEXT, "Outcome measures only: chair, review (default) or patient_reported.", ""
        ),
        Column("note", False, TEXT, "A note (up to 400 characters).", ""),
    ),
}


def column_names(kind: str) -> list[str]:
    return [c.name for c in COLUMNS[kind]]


# --- cells ------------------------------------------------------------------------------------------------


def _cell(column: Column, text: str) -> Any:
    """The cell as a typed value (None when blank); ValueError with the reason in words."""
    text = text.strip()
    if text == "":
        return None
    if column.type == DATE:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(f"must be a date written YYYY-MM-DD (got '{text[:40]}')")
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"'{text}' is not a date on the calendar") from None
    if column.type == YES_NO:
        low = text.lower()
        if low in _YES:
            return True
        if low in _NO:
            return False
        raise ValueError(f"must be yes or no (got '{text[:40]}')")
    if column.type == WHOLE:
        if not _WHOLE.fullmatch(text):
            raise ValueError(f"must be a whole number (got '{text[:40]}')")
        return int(text)
    if column.type == DECIMAL:
        if not _DECIMAL.fullmatch(text):
            raise ValueError(f"must be a number with a decimal point, no units or commas (got '{text[:40]}')")
        return float(text)
    return text


def cells(kind: str, raw: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The row's given cells typed (blanks left out), and a reason for each cell that is not well formed."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for column in COLUMNS[kind]:
        text = raw.get(column.name) or ""
        if "\x00" in text:
            problems.append(f"{column.name}: contains a NUL character")
            continue
        try:
            value = _cell(column, text)
        except ValueError as exc:
            problems.append(f"{column.name}: {exc}")
            continue
        if value is None:
            if column.required:
                problems.append(f"{column.name}: is required")
            continue
        values[column.name] = value
    return values, problems


def schema_problems(exc: ValidationError, rename: dict[str, str] | None = None) -> list[str]:
    """Pydantic's errors as '<column>: <reason>' lines."""
    out = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ()) if not isinstance(p, int)]
        name = (rename or {}).get(loc[0], loc[0]) if loc else ""
        message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
        if error.get("type") in ("literal_error", "enum"):
            message = message.replace("Input should be", "must be")  # the choices, named
        elif error.get("type") != "value_error":
            message = plain_problem(error)
        if name and any(p.startswith(f"{name}: ") for p in out):
            continue  # one reason per column (an e-mail column's two alternatives both fail)
        if ": " in message and not name:  # a check across fields names its field itself
            out.append(message)
        else:
            out.append(f"{name}: {message}" if name else message)
    return out


def _validated(
    model: type[BaseModel], values: dict[str, Any], said: list[str] | None = None
) -> tuple[Any, list[str]]:
    """The model, or its problems (leaving out columns whose cell was already refused)."""
    try:
        return model.model_validate(values), []
    except ValidationError as exc:
        done = {p.split(":", 1)[0] for p in said or []}
        return None, [p for p in schema_problems(exc) if p.split(":", 1)[0] not in done]


# --- one row ----------------------------------------------------------------------------------------------


def parse_row(kind: str, line: int, raw: dict[str, str]) -> Row | RowError:
    """One CSV row (column -> text) into its row type, or a RowError naming every problem of the row."""
    values, problems = cells(kind, raw)
    row: Row | None = None
    if kind == "patients":
        site_code = str(values.pop("site_code", "")).lower()
        if ("home_lat" in values) != ("home_lon" in values):
            problems.append("home_lon: give the home's latitude and longitude together")
        data, more = _validated(PatientIn, values, problems)
        problems += more
        if data is not None and not problems:
            row = PatientRow(line, data, site_code)
    elif kind == "prescribers":
        data, more = _validated(PrescriberIn, values, problems)
        problems += more
        if data is not None:
            row = PrescriberRow(line, data)
    elif kind == "coverages":
        mrn = str(values.pop("mrn", "")).upper()
        payer_code = str(values.pop("payer_code", "")).lower()
        data, more = _validated(CoverageIn, {**values, "payer_id": PAYER_PLACEHOLDER}, problems)
        problems += more
        if data is not None:
            row = CoverageRow(line, mrn, payer_code, data)
    elif kind == "measurements":
        method = str(values.get("method", "review"))
        if method not in ("chair", "review", "patient_reported"):
            problems.append("method: must be chair, review or patient_reported")
        note = str(values.get("note", ""))
        if len(note) > 400:
            problems.append("note: at most 400 characters")
        if not problems:
            row = MeasurementRow(
                line,
                str(values["mrn"]).upper(),
                str(values["kind"]).strip(),
                float(values["value"]),
                values["measured_on"],
                note,
                method,
            )
    else:
        raise ValueError(f"unknown import kind {kind!r}")
    if problems or row is None:
        return RowError(line, "; ".join(dict.fromkeys(problems)) or "the row is not valid")
    return row


# --- the file ---------------------------------------------------------------------------------------------


@dataclass
class CsvRows:
    """Rows of one CSV file, read as a stream: ``header_errors`` after construction, then iterate."""

    kind: str
    stream: IO[str]
    header_errors: list[RowError] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._reader = csv.reader(self.stream)
        self._names: list[str] = []
        try:
            header = next(self._reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            self.header_errors.append(RowError(1, f"the header cannot be read: {_why(exc)}"))
            return
        if header is None:
            self.header_errors.append(RowError(1, "the file is empty: the first line must name the columns"))
            return
        self._names = [h.strip().lower().lstrip("\ufeff") for h in header]
        self.header_errors += header_problems(self.kind, self._names)

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]] | RowError]:
        if self.header_errors:
            return
        width = len(self._names)
        line = self._reader.line_num + 1
        while True:
            try:
                cells_ = next(self._reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                yield RowError(line, f"the file cannot be read from here on: {_why(exc)}")
                return
            start, line = line, self._reader.line_num + 1
            if not any(c.strip() for c in cells_):
                continue  # a blank line
            if len(cells_) > width:
                yield RowError(start, f"has {len(cells_)} cells but the header names {width} columns")
                continue
            yield start, dict(zip(self._names, cells_, strict=False))


def _why(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8 text (save the file as CSV UTF-8)"
    return str(exc)


def header_problems(kind: str, names: list[str]) -> list[RowError]:
    known = column_names(kind)
    problems = []
    unknown = [n for n in names if n not in known]
    if unknown:
        problems.append(
            RowError(
                1,
                f"unknown column(s) {', '.join(repr(n) for n in unknown)}; the {kind} template's columns are "
                f"{', '.join(known)}",
            )
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        problems.append(RowError(1, f"column(s) named twice: {', '.join(twice)}"))
    missing = [c.name for c in COLUMNS[kind] if c.required and c.name not in names]
    if missing:
        problems.append(RowError(1, f"required column(s) missing: {', '.join(missing)}"))
    return problems


def text_stream(binary: IO[bytes]) -> IO[str]:
    """A byte stream as text for :class:`CsvRows` (UTF-8, with or without Excel's byte-order mark)."""
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


def parse_rows(kind: str, stream: IO[str]) -> Iterator[Row | RowError]:
    """Every row of the file, parsed; the header's problems first (then no rows)."""
    rows = CsvRows(kind, stream)
    yield from rows.header_errors
    for item in rows:
        yield item if isinstance(item, RowError) else parse_row(kind, item[0], item[1])


def to_csv(kind: str, rows: Iterable[dict[str, Any]]) -> str:
    """Rows (column -> value) as a CSV text of the kind's template (for tests, examples and benchmarks)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=column_names(kind), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _text(v) for k, v in row.items()})
    return out.getvalue()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
