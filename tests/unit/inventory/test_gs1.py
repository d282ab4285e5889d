"""GS1 DataMatrix scans as keyboard-wedge text; synthetic GTINs with computed check digits."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igflow.inventory.gs1 import GS, SCAN_ERROR_CODES, ScanError, ScanResult, parse_scan


def gtin14(body13: str) -> str:
    """A GTIN-14 from 13 digits with the GS1 mod-10 check digit (weights 3,1,3,... from the right)."""
    assert len(body13) == 13 and body13.isdigit()
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body13)))
    return body13 + str((10 - total % 10) % 10)


GTIN = gtin14("0000000012345")  # synthetic: GS1 prefix 000 is not a real product
BAD_GTIN = GTIN[:-1] + str((int(GTIN[-1]) + 1) % 10)


def test_check_digit_helper_matches_a_known_gtin() -> None:
    assert gtin14("0950600013435") == "09506000134352"  # GS1 documentation example


def test_raw_with_gs_separator_and_serial() -> None:
    text = f"01{GTIN}17281130" + f"10LOT-42{GS}21SER0001\r\n"
    assert parse_scan(text) == ScanResult(
        gtin=GTIN, lot="LOT-42", expiry=date(2028, 11, 30), serial="SER0001"
    )


def test_raw_with_symbology_identifier() -> None:
    result = parse_scan(f"]d201{GTIN}17281130" + f"10A1B2{GS}21S9")
    assert (result.lot, result.serial) == ("A1B2", "S9")


def test_raw_without_separator_lot_last() -> None:
    result = parse_scan(f"01{GTIN}21SER7{GS}17270615" + "10LOTZ")
    assert (result.lot, result.serial, result.expiry) == ("LOTZ", "SER7", date(2027, 6, 15))
    no_serial = parse_scan(f"01{GTIN}1727061510LOTZ")
    assert no_serial.serial is None and no_serial.lot == "LOTZ"


def test_site_configured_separator_substitute() -> None:
    text = f"01{GTIN}17281130" + "10LOT9<GS>21X1"
    result = parse_scan(text, separators=("<GS>",))
    assert (result.lot, result.serial) == ("LOT9", "X1")


def test_human_readable_form() -> None:
    result = parse_scan(f"(01){GTIN}(17)290228(10)HR-LOT(21)77")
    assert result == ScanResult(gtin=GTIN, lot="HR-LOT", expiry=date(2029, 2, 28), serial="77")


def test_day_00_means_end_of_month() -> None:
    assert parse_scan(f"01{GTIN}1728020010L").expiry == date(2028, 2, 29)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("   \r\n", "empty_scan"),
        ("hello world", "unreadable_scan"),
        ("(99", "unreadable_scan"),
        ("17281130" + "10LOT", "missing_gtin"),
        (f"01{BAD_GTIN}17281130" + "10LOT", "invalid_gtin"),
        (f"01{GTIN}10LOT", "missing_expiry"),
        (f"01{GTIN}17281340" + "10LOT", "invalid_expiry"),
        (f"01{GTIN}17281130", "missing_lot"),
        (GTIN, "missing_lot"),
    ],
)
def test_errors_name_what_is_wrong(text: str, code: str) -> None:
    with pytest.raises(ScanError) as info:
        parse_scan(text)
    assert info.value.code == code
    assert info.value.message


def test_every_error_code_is_reachable() -> None:
    assert set(SCAN_ERROR_CODES) == {
        "empty_scan",
        "unreadable_scan",
        "missing_gtin",
        "invalid_gtin",
        "missing_expiry",
        "invalid_expiry",
        "missing_lot",
    }
    with pytest.raises(KeyError):
        ScanError("no_such_code", "x")


_LOT_CHARS = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=20)


@settings(max_examples=80, deadline=None)
@given(
    body=st.text(alphabet="0123456789", min_size=13, max_size=13),
    lot=_LOT_CHARS,
    serial=_LOT_CHARS,
    expiry=st.dates(min_value=date(2027, 1, 1), max_value=date(2060, 12, 31)),
    human_readable=st.booleans(),
)
def test_round_trip(body: str, lot: str, serial: str, expiry: date, human_readable: bool) -> None:
    gtin = gtin14(body)
    yymmdd = expiry.strftime("%y%m%d")
    if human_readable:
        text = f"(01){gtin}(17){yymmdd}(10){lot}(21){serial}"
    else:
        text = f"01{gtin}17{yymmdd}10{lot}{GS}21{serial}"
    assert parse_scan(text) == ScanResult(gtin=gtin, lot=lot, expiry=expiry, serial=serial)
