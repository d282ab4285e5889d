"""Pure CSV parsing and row validation: every bad row reported with its line and reason, good rows typed."""

from __future__ import annotations

import io
import string
from datetime import date
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from igflow.imports.columns import (
    COLUMNS,
    KINDS,
    CoverageRow,
    MeasurementRow,
    PatientRow,
    PrescriberRow,
    RowError,
    parse_rows,
    to_csv,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "imports"

MIXED = """mrn,family_name,given_name,date_of_birth,sex,site_code,email,diabetes,home_lat,home_lon
GOOD-1,Rivera,Alex,1968-04-02,female,north,,yes,,
BAD-2,Okafor,Chidi,05/17/1970,male,north,,,,
GOOD-3,Lind,Maja,1979-06-14,female,NORTH,,no,,

x,,Solo,1980-01-01,robot,north,not-an-email,maybe,,
GOOD-6,"Smith, Jr",Pat,1990-02-28,unknown,south,pat@example.org,,45.5,-122.6
BAD-7,Late,Born,2999-01-01,female,north,,,,
BAD-8,Half,Home,1990-01-01,female,north,,,45.5,
BAD-9,Extra,Cells,1990-01-01,female,north,,,,,,
"""


def _parse(
    kind: str, text: str
) -> list[PatientRow | PrescriberRow | CoverageRow | MeasurementRow | RowError]:
    return list(parse_rows(kind, io.StringIO(text)))


def test_a_mixed_file_reports_every_bad_row_with_its_line_and_reason() -> None:
    out = _parse("patients", MIXED)
    errors = {e.line: e.reason for e in out if isinstance(e, RowError)}
    good = [r for r in out if isinstance(r, PatientRow)]
    assert [r.data.mrn for r in good] == ["GOOD-1", "GOOD-3", "GOOD-6"]
    assert [r.line for r in good] == [2, 4, 7]  # the blank line 5 is skipped but counted
    assert sorted(errors) == [3, 6, 8, 9, 10]
    assert "date_of_birth: must be a date written YYYY-MM-DD (got '05/17/1970')" in errors[3]
    for words in ("mrn:", "family_name: is required", "sex:", "email:", "diabetes: must be yes or no"):
        assert words in errors[6], (words, errors[6])
    assert "date_of_birth" in errors[8]
    assert "latitude and longitude together" in errors[9] or "home_lon" in errors[9]
    assert "has 12 cells but the header names 10 columns" in errors[10]
    assert good[1].site_code == "north" and good[0].data.diabetes is True
    assert good[2].data.family_name == "Smith, Jr"


def test_the_header_is_checked_before_any_row() -> None:
    out = _parse(
        "patients", "mrn,family_name,givn_name,date_of_birth,sex,sex\nA,B,C,1970-01-01,female,female\n"
    )
    assert all(isinstance(e, RowError) and e.line == 1 for e in out)
    reasons = " | ".join(e.reason for e in out if isinstance(e, RowError))
    assert "unknown column(s) 'givn_name'" in reasons
    assert "named twice: sex" in reasons
    assert "required column(s) missing: given_name, site_code" in reasons
    assert _parse("prescribers", "")[0] == RowError(
        1, "the file is empty: the first line must name the columns"
    )


def test_headers_ignore_case_spaces_and_the_excel_byte_order_mark() -> None:
    text = "\ufeffName , NPI\nDr A,1234567890\n"
    (row,) = _parse("prescribers", text)
    assert isinstance(row, PrescriberRow) and row.data.npi == "1234567890"


def test_a_file_that_is_not_utf8_is_refused_with_its_line() -> None:
    from igflow.imports.columns import text_stream

    raw = b"name,npi\nDr A,1234567890\n" + "Dr Müller,9876543210\n".encode("latin-1")
    out = list(parse_rows("prescribers", text_stream(io.BytesIO(raw))))
    assert isinstance(out[-1], RowError) and "not UTF-8" in out[-1].reason


def test_coverage_and_measurement_rows() -> None:
    coverages = _parse(
        "coverages",
        "mrn,payer_code,member_id,rank,effective_from,effective_to,copay_cents\n"
        "mrn-1,Acme,W1,2,2026-01-01,,2500\n"
        "MRN-2,acme,W2,1,2026-05-01,2026-01-01,-5\n",
    )
    first, second = coverages
    assert isinstance(first, CoverageRow) and (first.mrn, first.payer_code, first.data.rank) == (
        "MRN-1",
        "acme",
        2,
    )
    assert isinstance(second, RowError) and "copay_cents" in second.reason
    measurements = _parse(
        "measurements",
        "mrn,kind,value,measured_on,method\nM1,weight_kg,72.5,2026-11-01,\nM2,weight_kg,72,5 kg,2026-11-01\n"
        "M3,weight_kg,70,2026-11-01,phone\n",
    )
    assert isinstance(measurements[0], MeasurementRow) and measurements[0].value == 72.5
    assert isinstance(measurements[1], RowError) and measurements[1].line == 3
    assert isinstance(measurements[2], RowError) and "method" in measurements[2].reason


def test_every_example_file_parses_without_a_bad_row() -> None:
    for kind in KINDS:
        text = (DOCS / f"{kind}.csv").read_text(encoding="utf-8")
        out = _parse(kind, text)
        assert out and not [e for e in out if isinstance(e, RowError)], (kind, out)
        header = text.splitlines()[0].split(",")
        assert header == [c.name for c in COLUMNS[kind]], kind  # the example shows every column, in order


_name = st.text(string.ascii_letters + " '-", min_size=1, max_size=30).filter(lambda s: s.strip() == s and s)
_patients = st.fixed_dictionaries(
    {
        "mrn": st.text(string.ascii_uppercase + string.digits + "-", min_size=3, max_size=32),
        "family_name": _name,
        "given_name": _name,
        "date_of_birth": st.dates(date(1900, 1, 1), date(2025, 12, 31)),
        "sex": st.sampled_from(["female", "male", "other", "unknown"]),
        "site_code": st.sampled_from(["north", "south"]),
        "allergies": st.text(
            string.printable.replace("\r", "").replace("\x0b", "").replace("\x0c", ""), max_size=60
        ).map(str.strip),
        "diabetes": st.booleans(),
        "iga_deficiency_anti_iga": st.sampled_from(["yes", "no", "unknown"]),
    }
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_patients, min_size=1, max_size=5))
def test_any_row_that_parses_round_trips(rows: list[dict[str, object]]) -> None:
    """A row written in the template and read back gives the same values (what to_csv writes, parse reads)."""
    out = _parse("patients", to_csv("patients", rows))
    assert len(out) == len(rows)
    line = 2  # the file's own line: a quoted cell may span lines
    for row, parsed in zip(rows, out, strict=True):
        assert isinstance(parsed, PatientRow), parsed
        assert parsed.line == line
        line += 1 + sum(str(v).count("\n") for v in row.values())
        assert parsed.site_code == row["site_code"]
        for key, value in row.items():
            if key != "site_code":
                assert getattr(parsed.data, key) == value, key


def test_the_documented_template_names_every_column() -> None:
    doc = (DOCS.parent / "imports.md").read_text(encoding="utf-8")
    for kind, columns in COLUMNS.items():
        assert f"### {kind}" in doc
        for column in columns:
            assert f"| `{column.name}` | {'yes' if column.required else 'no'} |" in doc, (kind, column.name)
