"""A report's table, and its downloads: CSV with a header row and ISO dates, XLSX through openpyxl.

A :class:`Table` names its columns in words with their units (``Column("dose_g", "Grams", "g")``) and
holds rows as mappings; pages render it as a table and :func:`download` turns it into a file. Every
download is audited by the caller's service (``report.download``) with the filters, never with patient
data.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from fastapi import HTTPException
from fastapi.responses import Response

Format = Literal["csv", "xlsx"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx")
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    key: str  # the row's key
    label: str  # what a person reads: "Grams dispensed"
    unit: str | None = None  # shown after the label: "Grams dispensed (g)"

    @property
    def heading(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Mapping[str, Any], ...] = ()
    notes: tuple[str, ...] = field(default=())  # what the figures mean, their baseline or source

    def values(self) -> list[list[Any]]:
        return [[row.get(c.key) for c in self.columns] for row in self.rows]


def _cell(value: Any) -> Any:
    """A value as a spreadsheet cell: ISO dates, plain numbers, words; None as an empty cell."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.heading for c in table.columns])
    for row in table.values():
        writer.writerow(["" if (v := _cell(x)) is None else v for x in row])
    return out.getvalue().encode("utf-8")


def to_xlsx(tables: Sequence[Table]) -> bytes:
    """One worksheet per table: a bold header row, then the rows; notes below a blank row."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    used: set[str] = set()
    for table in tables:
        name = _sheet_name(table.title, used)
        sheet = book.create_sheet(name)
        sheet.append([c.heading for c in table.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table.values():
            sheet.append([_cell(x) for x in row])
        if table.notes:
            sheet.append([])
            for note in table.notes:
                sheet.append([note])
        for index, column in enumerate(table.columns, start=1):
            cells = [len(str(_cell(r.get(column.key)) or "")) for r in table.rows]
            width = max([len(column.heading), *cells])
            sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = min(width + 2, 60)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_name(title: str, used: set[str]) -> str:
    base = "".join(ch for ch in title if ch not in "[]:*?/\\")[:28] or "Report"
    name, n = base, 2
    while name in used:
        name, n = f"{base[:25]} {n}", n + 1
    used.add(name)
    return name


def download(tables: Table | Sequence[Table], fmt: str, filename: str) -> Response:
    """The tables as a file: CSV (the first table) or XLSX (a sheet per table). ``filename`` has no
    extension. An unknown format is a 422 that names the choices."""
    tables = [tables] if isinstance(tables, Table) else list(tables)
    if fmt == "csv":
        content, media = to_csv(tables[0]), "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        content, media = to_xlsx(tables), XLSX_MEDIA_TYPE
    else:
        raise HTTPException(status_code=422, detail=f"format must be one of: {', '.join(FORMATS)}")
    return Response(
        content=content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'},
    )
