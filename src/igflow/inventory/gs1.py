"""Parse the text a keyboard-wedge scanner types for a vial's GS1 DataMatrix (PURE).

Accepted forms:

- raw element strings, e.g. ``01095060001343521725123110LOT42<GS>21SER7`` with the FNC1/GS
  separator typed as ASCII 29, or as a site-configured substitute string (many wedges cannot type
  ASCII 29 and send e.g. ``|`` or ``<GS>`` instead), optionally preceded by the ``]d2``
  symbology identifier and followed by Enter;
- the human-readable form ``(01)09506000134352(17)251231(10)LOT42(21)SER7``.

Parsing uses the maintained ``biip`` library. The result names the GTIN (01), expiry (17), lot (10)
and serial (21); a missing or invalid part raises ``ScanError`` with a stable code and a plain message.

Limitation: without a separator, a variable-length lot (10) swallows every character after it, so a
serial that follows the lot is only read correctly when the separator is present; the parsed lot is
then wrong and the lot look-up fails (hard stop at the chair), it is never silently matched.
Two-digit years are resolved by ``biip`` with the GS1 sliding window relative to today's date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import biip
from biip import ParseConfig
from biip.gs1_messages import GS1Message

GS = "\x1d"

#: Stable ScanError codes and what they mean.
SCAN_ERROR_CODES: dict[str, str] = {
    "empty_scan": "nothing was scanned",
    "unreadable_scan": "the text is not a GS1 barcode",
    "missing_gtin": "the barcode has no product code (GTIN, AI 01)",
    "invalid_gtin": "the product code (GTIN) fails its check digit",
    "missing_expiry": "the barcode has no expiry date (AI 17)",
    "invalid_expiry": "the expiry date is not a valid date",
    "missing_lot": "the barcode has no lot number (AI 10)",
}


#: what a person is told when the text is no GS1 code at all (the library's own words are not shown)
UNREADABLE = (
    "That is not a GS1 code this page can read: "
    "scan the carton's 2D barcode or type the product, lot and expiry"
)


class ScanError(ValueError):
    """The scan cannot be used. ``code`` is one of ``SCAN_ERROR_CODES``."""

    def __init__(self, code: str, message: str) -> None:
        if code not in SCAN_ERROR_CODES:
            raise KeyError(code)
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class ScanResult:
    gtin: str  # 14 digits, check digit verified
    lot: str
    expiry: date
    serial: str | None


def _message(text: str, separators: Sequence[str]) -> GS1Message:
    if text.startswith("("):
        try:
            return GS1Message.parse_hri(text)
        except (ValueError, biip.ParseError) as exc:
            raise ScanError("unreadable_scan", UNREADABLE) from exc
    for separator in separators:
        if separator and separator != GS:
            text = text.replace(separator, GS)
    result = biip.parse(text, config=ParseConfig(separator_chars=(GS,)))
    if result.gs1_message is not None and result.gs1_message.element_strings:
        return result.gs1_message
    if result.gtin is not None:
        raise ScanError(
            "missing_lot", "this is a product-only barcode (GTIN only): scan the 2D DataMatrix code"
        )
    if result.gs1_message_error and "(17)" in result.gs1_message_error:
        raise ScanError("invalid_expiry", "the expiry date (AI 17) is not a valid YYMMDD date")
    raise ScanError(
        "unreadable_scan", UNREADABLE
    )  # biip's words ("Failed to get GS1 Application ...") stay out


def parse_scan(text: str, *, separators: Sequence[str] = (GS,)) -> ScanResult:
    """Parse one scan. ``separators`` lists the strings the site's scanner types for FNC1/GS."""
    cleaned = text.strip().strip("\r\n")
    if not cleaned:
        raise ScanError("empty_scan", "nothing was scanned: scan the vial's 2D code again")
    message = _message(cleaned, separators)
    by_ai = {element.ai.ai: element for element in message.element_strings}
    gtin_element = by_ai.get("01")
    if gtin_element is None:
        raise ScanError("missing_gtin", "no product code (GTIN, AI 01) in the scan")
    if gtin_element.gtin is None:
        raise ScanError(  # the library's words ("Invalid GTIN check digit for ...") stay out
            "invalid_gtin",
            f"product code {gtin_element.value} fails its check digit: the code was misread, scan it again",
        )
    expiry_element = by_ai.get("17")
    if expiry_element is None:
        raise ScanError("missing_expiry", "no expiry date (AI 17) in the scan")
    if expiry_element.date is None:
        raise ScanError("invalid_expiry", f"expiry {expiry_element.value!r} is not a valid date")
    lot_element = by_ai.get("10")
    if lot_element is None or not lot_element.value:
        raise ScanError("missing_lot", "no lot number (AI 10) in the scan")
    serial_element = by_ai.get("21")
    return ScanResult(
        gtin=gtin_element.value,
        lot=lot_element.value,
        expiry=expiry_element.date,
        serial=serial_element.value if serial_element is not None else None,
    )
